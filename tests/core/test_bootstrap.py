"""Bootstrap intervals of cell scores (int_cell_scores, macros/bootstrap.sql): recomputed by hand.

The replicate weights are Poisson(1) counts drawn from DuckDB's hash of (pair, replicate, seed);
the test takes the same hash values from DuckDB (they are the random numbers) and does the rest
here: the counts, the weighted means, the guide's score, and linear-interpolated percentiles."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest

REPLICATES, SEED, LEVEL = 200, 0, 0.95
POISSON_CDF = np.cumsum([math.exp(-1) / math.factorial(k) for k in range(7)])


def guide_score(p, axis, off, style, echo, refusal) -> float:
    clamp = lambda x: min(1.0, max(0.0, x))  # noqa: E731
    return 100 * p * clamp(axis / 8) * clamp((7 - off) / 6) * clamp((6 - style) / 6) * (1 - echo) * (1 - refusal)


def by_hand_interval(con, cell_id: str) -> tuple[float, float, int]:
    rows = con.execute(
        "select pair_id, is_strict_pass::int, axis_delta, off_axis_problem, max_style_abs_delta, "
        "has_persona_echo::int, has_refusal_or_ai_break::int from intermediate.int_pairs_scored "
        "where cell_id = ? and not is_error order by pair_id", [cell_id]).fetchall()
    values = np.array([r[1:] for r in rows], dtype=float)
    hashes = np.array(con.execute(
        f"select list(hash(pair_id, replicate, {SEED}) // 2048 order by replicate) from "
        f"(select pair_id from intermediate.int_pairs_scored where cell_id = ? and not is_error) "
        f"cross join range({REPLICATES}) r(replicate) group by pair_id order by pair_id", [cell_id]).fetchall(),
        dtype=object)
    u = np.array([np.array(h[0], dtype=float) for h in hashes]) / 2.0 ** 53   # (pairs, replicates)
    weights = np.searchsorted(POISSON_CDF, u, side="right")                 # Poisson(1) counts
    scores = []
    for r in range(REPLICATES):
        w = weights[:, r]
        if w.sum() == 0:
            continue
        means = (w[:, None] * values).sum(0) / w.sum()
        scores.append(guide_score(*means))
    low, high = np.quantile(scores, [(1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2])
    return round(float(low), 1), round(float(high), 1), len(scores)


def test_cell_score_intervals_equal_a_by_hand_bootstrap(pilot_db):
    con = duckdb.connect(str(pilot_db), read_only=True)
    cells = con.execute(
        "select cell_id, score, score_ci_low, score_ci_high, n_bootstrap, n from template_pair_scores "
        "where n >= 2 order by score_se desc nulls last, cell_id limit 6").fetchall()
    assert cells and any(c[3] > c[2] for c in cells), "the pilot's cells have intervals of some width"
    for cell_id, score, low, high, n_bootstrap, _ in cells:
        want_low, want_high, want_n = by_hand_interval(con, cell_id)
        assert (low, high, n_bootstrap) == pytest.approx((want_low, want_high, want_n), abs=0.051), cell_id
    one_pair = con.execute("select count(*) from template_pair_scores where n < 2 and score_ci_low is not null")
    assert one_pair.fetchone()[0] == 0

