"""Cell score intervals cover the planted true score (int_cell_scores, the anchored bootstrap).

Seeded: for each kind of cell (strong, middling, weak, dead, clean, echoing) 300 cells of n = 3, 4, 8
and 16 pairs are drawn, each gets the interval dbt computes, and the share whose interval
holds the kind's true score must be at least 0.90 at the nominal 0.95. The plain bootstrap (the
method this replaced) must fail the same check, so the simulation can tell the two apart."""

from __future__ import annotations

import numpy as np
import pytest
from planted import KINDS, anchored_interval, draw_pairs, true_score

CELLS = 300


@pytest.fixture(scope="module")
def truths():
    rng = np.random.default_rng(29)
    return {name: true_score(kind, rng) for name, kind in KINDS.items()}


@pytest.mark.parametrize("n", [3, 4, 8, 16])
def test_anchored_intervals_cover_the_true_score(truths, n):
    rng = np.random.default_rng(n)
    report = []
    for name, kind in KINDS.items():
        low, high = anchored_interval(rng, draw_pairs(rng, kind, (CELLS, n)))
        covered = np.mean((low <= truths[name] + 1e-9) & (truths[name] <= high + 1e-9))
        report.append(f"{name} (true {truths[name]:.1f}): coverage {covered:.3f}, "
                      f"mean width {np.mean(high - low):.1f}, zero-width {np.mean(high - low <= 0):.3f}")
        assert covered >= 0.90, report[-1]
        assert np.all(high - low > 0), report[-1]
    print(f"\nn = {n}:\n  " + "\n  ".join(report))


def test_the_plain_bootstrap_fails_the_same_check(truths):
    rng = np.random.default_rng(4)
    coverage = {}
    for name, kind in KINDS.items():
        low, high = anchored_interval(rng, draw_pairs(rng, kind, (CELLS, 4)), anchored=False)
        coverage[name] = np.mean((low <= truths[name] + 1e-9) & (truths[name] <= high + 1e-9))
    assert min(coverage.values()) < 0.5, coverage
