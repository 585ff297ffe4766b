"""P(top k) (int_cell_scores.p_top_k) against planted truth: it finds the true top k and is calibrated.

Seeded. A measurement is 24 planted cells with known true scores (planted.true_score); each run
draws every cell's n pairs afresh and computes p_top_k (k = 3) as dbt does, from the interval's
replicates with the pseudo-pair at a uniform point between the worst and best values
(planted.replicate_scores, pinned to dbt's SQL on the pilot by tests/core/test_bootstrap.py).
- Planted winners: three clean cells far above 21 ordinary ones get p_top_k many times the others'
  (0.55 at n = 4, 0.67 at n = 8, not near 1: at n = 4 an ordinary cell's four pairs can look as
  good as a clean cell's, and the pseudo-pair, a prior of one pair, is strong at n = 4).
- A close race (24 cells of random kinds, true scores a few points apart): over all runs and cells
  the predicted probability matches how often a cell is truly in the top 3, bin by bin, and the
  Brier score beats the constant guess k / cells."""

from __future__ import annotations

import numpy as np
import pytest
from planted import KINDS, draw_pairs, p_top_k, replicate_scores, true_score

CELLS, K, RUNS = 24, 3, 100
BINS = [0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 1.01]


def simulate(rng, kinds, n):
    """(runs x cells) predicted p_top_k and true top-k membership."""
    truth = np.array([true_score(kind, rng, 50_000) for kind in kinds])
    top = truth >= np.sort(truth)[-K]
    predicted = [p_top_k(replicate_scores(rng, np.stack([draw_pairs(rng, kind, (n,)) for kind in kinds]))["draw"], K)
                 for _ in range(RUNS)]
    return np.concatenate(predicted), np.tile(top, RUNS)


@pytest.mark.parametrize(("n", "at_least"), [(4, 0.5), (8, 0.6)])
def test_planted_winners_get_a_high_p_top_k(n, at_least):
    rng = np.random.default_rng(100 + n)
    ordinary = [KINDS[name] for name in ["strong", "middling", "weak", "dead"] for _ in range(5)] + [KINDS["strong"]]
    p, top = simulate(rng, [KINDS["clean"]] * K + ordinary, n)
    print(f"\nn = {n}: planted top 3 mean p_top_k {p[top].mean():.3f}, others {p[~top].mean():.3f}")
    assert p[top].mean() >= at_least and p[top].mean() >= 8 * p[~top].mean()
    assert np.mean(p[top] > 0.2) >= 0.9  # nearly every planted winner stays in contention


@pytest.mark.parametrize("n", [4, 8])
def test_p_top_k_is_calibrated_in_a_close_race(n):
    rng = np.random.default_rng(200 + n)
    kinds = [(rng.uniform(1, 6.5), 1.5, rng.uniform(1.0, 2.5), rng.uniform(0.3, 1.5), rng.uniform(0, 0.1),
              rng.uniform(0, 0.05)) for _ in range(CELLS)]
    p, top = simulate(rng, kinds, n)
    brier, constant = np.mean((p - top) ** 2), np.mean((K / CELLS - top) ** 2)
    report = [f"n = {n}: Brier {brier:.4f} (constant guess {constant:.4f})"]
    for low, high in zip(BINS, BINS[1:]):
        inside = (p >= low) & (p < high)
        if inside.sum() >= 50:  # a bin of fewer cells is too noisy to judge at this size
            report.append(f"p in [{low}, {high}): {inside.sum()} cells, mean p {p[inside].mean():.3f}, "
                          f"truly top {top[inside].mean():.3f}")
            assert abs(p[inside].mean() - top[inside].mean()) <= 0.1, report[-1]
    print("\n" + "\n  ".join(report))
    assert brier <= 0.8 * constant, report[0]
