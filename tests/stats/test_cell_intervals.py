"""Cell score intervals cover the planted true score (int_cell_scores, the anchored bootstrap).

Seeded: for each kind of cell (strong, middling, weak, dead, clean, echoing) 300 cells of n = 3, 4, 8
and 16 pairs are drawn, each gets the interval dbt computes, and the share whose interval
holds the kind's true score must be at least 0.90 at the nominal 0.95. The plain bootstrap (the
method this replaced) must fail the same check, so the simulation can tell the two apart."""

from __future__ import annotations

import numpy as np
import pytest
from planted import KINDS, anchored_interval, draw_pairs, score, true_score

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


def test_failed_pairs_that_go_with_bad_outputs_are_covered():
    """Failures are bounded, not dropped (int_cell_scores): a planted cell whose generator fails on
    the pairs it would answer worst (a pair that would not pass fails with probability 0.6).
    The score over the successful pairs overstates the cell; the true score is over every planned
    pair. With the failed pairs at the worst values in the lower bound (and the best in the upper)
    the interval covers it, and its lower bound sits below the one of the same cell with its failures
    dropped (as the point score drops them; at these sizes that interval, conservative too, still
    covers: the rule's effect is the lower bound that recommended_confident reads)."""
    rng = np.random.default_rng(31)
    kind = KINDS["strong"]
    everything = draw_pairs(rng, kind, (200_000,))
    truth = float(score(everything.mean(axis=0)))
    for n in (8, 16, 32):
        pairs = draw_pairs(rng, kind, (CELLS, n))
        errors = (pairs[..., 0] == 0) & (rng.random((CELLS, n)) < 0.6)
        errors[errors.all(axis=1), 0] = False  # a cell keeps one successful pair
        low, high = anchored_interval(rng, pairs, errors=errors)
        covered = np.mean((low <= truth + 1e-9) & (truth <= high + 1e-9))
        dropped = [anchored_interval(rng, pairs[i][~errors[i]][None]) for i in range(CELLS)]
        dropped_low = np.array([low_i[0] for low_i, _ in dropped])
        dropped_covered = np.mean([low_i[0] <= truth + 1e-9 <= high_i[0] + 2e-9 for low_i, high_i in dropped])
        print(f"\nn = {n}: true {truth:.1f}, error rate {errors.mean():.2f}: failures bounded cover {covered:.3f} "
              f"(mean lower bound {low.mean():.1f}), failures dropped cover {dropped_covered:.3f} "
              f"(mean lower bound {dropped_low.mean():.1f})")
        assert covered >= 0.90
        # dropping the failures lifts the lower bound (at n = 8 both are mostly 0)
        assert dropped_low.mean() > low.mean() or n == 8
