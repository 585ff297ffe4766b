"""Cell score intervals (int_cell_scores, macros/bootstrap.sql): recomputed by hand.

The replicate weights are Exp(1) draws from DuckDB's hash of (pair, replicate, seed), plus one
pseudo-pair per (cell, replicate) at the worst values (lower bound) or the best (upper bound);
the test takes the same hash values from DuckDB (they are the random numbers) and does the rest
here: the weights, the weighted means, the guide's score, and linear-interpolated percentiles."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

REPLICATES, SEED, LEVEL = 200, 0, 0.95
WORST = np.array([0, -8, 7, 6, 1, 1], dtype=float)
BEST = np.array([1, 8, 1, 0, 0, 0], dtype=float)


def guide_score(p, axis, off, style, echo, refusal) -> float:
    clamp = lambda x: min(1.0, max(0.0, x))  # noqa: E731
    return 100 * p * clamp(axis / 8) * clamp((7 - off) / 6) * clamp((6 - style) / 6) * (1 - echo) * (1 - refusal)


def uniforms(con, keys_sql: str, params: list) -> np.ndarray:
    """(keys, replicates) of DuckDB's seeded hash uniforms, keys in sorted order."""
    rows = con.execute(
        f"select list(hash(k, replicate, {SEED}) // 2048 order by replicate) from ({keys_sql}) keys(k) "
        f"cross join range({REPLICATES}) r(replicate) group by k order by k", params).fetchall()
    return np.array([np.array(r[0], dtype=float) for r in rows]) / 2.0 ** 53


def by_hand_interval(con, cell_id: str) -> tuple[float, float, int]:
    rows = con.execute(
        "select pair_id, is_strict_pass::int, axis_delta, off_axis_problem, max_style_abs_delta, "
        "has_persona_echo::int, has_refusal_or_ai_break::int from intermediate.int_pairs_scored "
        "where cell_id = ? and not is_error order by pair_id", [cell_id]).fetchall()
    values = np.array([r[1:] for r in rows], dtype=float)
    weights = -np.log(1 - uniforms(con, "select pair_id from intermediate.int_pairs_scored "
                                        "where cell_id = ? and not is_error", [cell_id]))
    anchor = -np.log(1 - uniforms(con, "select ?", [cell_id]))[0]
    low, high = [], []
    for r in range(REPLICATES):
        w, w0 = weights[:, r], anchor[r]
        sums, total = (w[:, None] * values).sum(0), w.sum() + w0
        low.append(guide_score(*((sums + w0 * WORST) / total)))
        high.append(guide_score(*((sums + w0 * BEST) / total)))
    return (round(float(np.quantile(low, (1 - LEVEL) / 2)), 1),
            round(float(np.quantile(high, 1 - (1 - LEVEL) / 2)), 1), REPLICATES)


def test_cell_score_intervals_equal_a_by_hand_anchored_bootstrap(pilot_db):
    con = duckdb.connect(str(pilot_db), read_only=True)
    cells = con.execute(
        "select cell_id, score, score_ci_low, score_ci_high, n_bootstrap, n from template_pair_scores "
        "where n >= 2 order by score_se desc nulls last, cell_id limit 4").fetchall()
    cells += con.execute(   # and cells whose jackknife SE is 0: the plain bootstrap gave them zero width
        "select cell_id, score, score_ci_low, score_ci_high, n_bootstrap, n from template_pair_scores "
        "where n >= 2 and score_se = 0 order by score desc, cell_id limit 2").fetchall()
    assert len(cells) == 6
    for cell_id, score, low, high, n_bootstrap, _ in cells:
        want_low, want_high, want_n = by_hand_interval(con, cell_id)
        assert (low, high, n_bootstrap) == pytest.approx((want_low, want_high, want_n), abs=0.051), cell_id
    one_pair = con.execute("select count(*) from template_pair_scores where n < 2 and score_ci_low is not null")
    assert one_pair.fetchone()[0] == 0


def test_no_interval_is_zero_width_and_each_holds_its_score(pilot_db):
    con = duckdb.connect(str(pilot_db), read_only=True)
    n_cells, zero_width, outside, zero_se = con.execute(
        "select count(*), count(*) filter (score_ci_high <= score_ci_low), "
        "count(*) filter (not score between score_ci_low and score_ci_high), count(*) filter (score_se = 0) "
        "from template_pair_scores where score_ci_low is not null").fetchone()
    assert n_cells > 0 and zero_se > 0, "the pilot has cells whose jackknife SE is 0"
    assert (zero_width, outside) == (0, 0)
