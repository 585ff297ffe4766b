"""Cell score intervals and P(top k) (int_cell_scores, macros/bootstrap.sql): recomputed by hand.

The replicate weights are one table: row r holds an Exp(1) weight per position (0 the pseudo-pair's,
i the cell's i-th pair in pair_id order, failed pairs included) from DuckDB's hash of (position, r,
seed), and u_centre from the hash of ('centre', r, seed); cell c reads row (r + hash(c, seed) mod R)
mod R. The test takes the hash values from DuckDB (they are the random numbers) and does the rest
here: the weights, the weighted means with failed pairs and the pseudo-pair at the worst / best /
drawn values, the guide's score, linear-interpolated percentiles and the top-3 shares."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

REPLICATES, SEED, LEVEL, TOP_K = 200, 0, 0.95, 3
WORST = np.array([0, -8, 7, 6, 1, 1], dtype=float)
BEST = np.array([1, 8, 1, 0, 0, 0], dtype=float)


def guide_score(means: np.ndarray) -> np.ndarray:
    clamp = lambda x: np.clip(x, 0.0, 1.0)  # noqa: E731
    p, axis, off, style, echo, refusal = np.moveaxis(means, -1, 0)
    return 100 * p * clamp(axis / 8) * clamp((7 - off) / 6) * clamp((6 - style) / 6) * (1 - echo) * (1 - refusal)


def uniform(con, key, replicate: int) -> float:
    return con.execute(f"select (hash(?, ?::bigint, {SEED}) // 2048) / 2.0 ** 53", [key, replicate]).fetchone()[0]


def by_hand(con) -> dict[str, tuple[float, float, float]]:
    """Every bootstrapped cell's (ci_low, ci_high, p_top_k)."""
    rows = con.execute(
        "select cell_id, is_error, coalesce(is_strict_pass::int, 0), coalesce(axis_delta, 0), coalesce(off_axis_problem, 0), "
        "coalesce(max_style_abs_delta, 0), coalesce(has_persona_echo::int, 0), coalesce(has_refusal_or_ai_break::int, 0) "
        "from intermediate.int_pairs_scored where cell_id in (select cell_id from intermediate.int_pairs_scored "
        "where not is_error group by cell_id having count(*) > 1) order by cell_id, pair_id").fetchall()
    cells: dict[str, list] = {}
    for cell_id, is_error, *values in rows:
        cells.setdefault(cell_id, []).append((is_error, values))
    max_n = max(len(pairs) for pairs in cells.values())
    grid = con.execute(f"select list(hash(position, replicate, {SEED}) // 2048 order by position) from range({max_n} + 1) "
                       f"p(position) cross join range({REPLICATES}) r(replicate) group by replicate order by replicate")
    table = -np.log(1 - np.array([row[0] for row in grid.fetchall()], dtype=float) / 2.0 ** 53)
    u_centre = np.array([uniform(con, "centre", r) for r in range(REPLICATES)])
    draws, bounds = {}, {}
    for cell_id, pairs in cells.items():
        offset = con.execute(f"select hash(?, {SEED}) % {REPLICATES}", [cell_id]).fetchone()[0]
        rows_used = (np.arange(REPLICATES) + offset) % REPLICATES
        errors = np.array([is_error for is_error, _ in pairs])
        values = np.array([v for _, v in pairs], dtype=float)
        weights = table[rows_used][:, 1:len(pairs) + 1]
        unknown = table[rows_used][:, 0] + (weights * errors).sum(1)
        sums, total = (weights * ~errors) @ values, (weights * ~errors).sum(1) + unknown
        low = guide_score((sums + unknown[:, None] * WORST) / total[:, None])
        high = guide_score((sums + unknown[:, None] * BEST) / total[:, None])
        point = WORST + u_centre[rows_used][:, None] * (BEST - WORST)
        draws[cell_id] = guide_score((sums + unknown[:, None] * point) / total[:, None])
        bounds[cell_id] = (np.quantile(low, (1 - LEVEL) / 2), np.quantile(high, 1 - (1 - LEVEL) / 2))
    stacked = np.array(list(draws.values()))
    bar = np.sort(stacked, axis=0)[-TOP_K]
    return {cell_id: (*bounds[cell_id], float(np.mean(draws[cell_id] >= bar))) for cell_id in draws}


def test_cell_intervals_and_p_top_k_equal_a_by_hand_computation(pilot_db):
    con = duckdb.connect(str(pilot_db), read_only=True)
    assert con.execute("select count(distinct measurement_id) from template_pair_scores").fetchone()[0] == 1
    want = by_hand(con)
    got = con.execute("select cell_id, score_ci_low, score_ci_high, p_top_k, n_bootstrap, n_errors "
                      "from template_pair_scores where n >= 2").fetchall()
    assert len(got) == len(want) and any(row[5] > 0 for row in got), "the pilot has cells with failed pairs"
    for cell_id, low, high, p_top_k, n_bootstrap, _ in got:
        want_low, want_high, want_p = want[cell_id]
        assert (low, high, p_top_k, n_bootstrap) == pytest.approx(
            (round(want_low, 1), round(want_high, 1), round(want_p, 3), REPLICATES), abs=0.051), cell_id
    assert sum(row[3] for row in got) == pytest.approx(TOP_K, abs=0.01)  # no ties on the pilot
    one_pair = con.execute("select count(*) from template_pair_scores where n < 2 and score_ci_low is not null")
    assert one_pair.fetchone()[0] == 0


def test_recommended_confident_needs_the_lower_bound_to_clear_the_bar(pilot_db):
    """The bar is the guide's score at every threshold of the rule (0.5 * 3/8 * 5/6 * 4/6 = 10.4);
    on the pilot (n = 4) no recommended cell's lower bound clears it."""
    con = duckdb.connect(str(pilot_db), read_only=True)
    rows = con.execute("select recommended, recommended_confident, score_ci_low from template_pair_scores").fetchall()
    assert any(recommended for recommended, _, _ in rows)
    assert all(confident == (recommended and low is not None and low >= 10.4) for recommended, confident, low in rows)


def test_no_interval_is_zero_width_and_each_holds_its_score(pilot_db):
    con = duckdb.connect(str(pilot_db), read_only=True)
    n_cells, zero_width, outside, zero_se = con.execute(
        "select count(*), count(*) filter (score_ci_high <= score_ci_low), "
        "count(*) filter (not score between score_ci_low and score_ci_high), count(*) filter (score_se = 0) "
        "from template_pair_scores where score_ci_low is not null").fetchone()
    assert n_cells > 0 and zero_se > 0, "the pilot has cells whose jackknife SE is 0"
    assert (zero_width, outside) == (0, 0)
