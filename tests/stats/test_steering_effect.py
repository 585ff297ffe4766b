"""The steering effect in layer_choice recovers and covers a planted slope.

Seeded. A sweep: S scenarios x coefficients -4..4 at one vector norm and layer residual norm, so
coef_rel_norm = coeff x |v| / residual norm. Each scenario's trait score rises by a planted 6
points per unit coef_rel_norm (plus a scenario's own deviation, sd 2) with judge noise (sd 8);
at large |coef_rel_norm| generations turn incoherent, and an incoherent text's trait score is
noise (uniform 0-100). layer_choice's effect (numpy here, the SQL pinned by its dbt unit test
`layer_choice_prefers_a_swept_layer_that_steers`): per scenario the least-squares slope over
coherent generations, their mean over scenarios and a 95% t interval (df = S - 1)."""

from __future__ import annotations

import numpy as np
import pytest

SLOPE, RUNS = 6.0, 400
# Student's t 0.975 quantiles by df (scipy's t.ppf; dbt's macros/quantiles.sql student_t_quantiles,
# pinned to these tables by tests/core/test_quantiles.py)
T975 = {3: 3.182446, 7: 2.364624, 15: 2.131450}
COEFFS = np.arange(-4, 5, dtype=float)


def sweep(rng, scenarios: int, vector_norm: float, coeffs: np.ndarray = COEFFS, residual_norm: float = 40.0):
    """(scenarios, coeffs) coef_rel_norm, trait scores and coherence flags."""
    rel = np.broadcast_to(coeffs * vector_norm / residual_norm, (scenarios, coeffs.size))
    slopes = SLOPE + rng.normal(0, 2, (scenarios, 1))
    trait = 50 + rng.normal(0, 10, (scenarios, 1)) + slopes * rel + rng.normal(0, 8, rel.shape)
    coherent = rng.random(rel.shape) > np.clip((np.abs(rel) - 0.6) * 1.5, 0, 1)
    trait = np.where(coherent, trait, rng.uniform(0, 100, rel.shape))
    return rel, trait, coherent


def effect(x, y, keep):
    """layer_choice: per-scenario slope over kept generations (two distinct x at least), mean, t interval."""
    k = keep.astype(float)
    n = k.sum(1)
    mx, my = (k * x).sum(1) / np.maximum(n, 1), (k * y).sum(1) / np.maximum(n, 1)
    sxx = (k * (x - mx[:, None]) ** 2).sum(1)
    sloped = sxx > 1e-12   # two distinct coef_rel_norm values at least
    slopes = (k * (x - mx[:, None]) * (y - my[:, None])).sum(1)[sloped] / sxx[sloped]
    mean, se = slopes.mean(), slopes.std(ddof=1) / np.sqrt(len(slopes))
    half = T975[len(slopes) - 1] * se
    return mean, mean - half, mean + half


@pytest.mark.parametrize("scenarios", [4, 8, 16])
def test_planted_slope_is_recovered_and_covered(scenarios):
    rng = np.random.default_rng(scenarios)
    estimates, covered, pooled = [], [], []
    for _ in range(RUNS):
        rel, trait, coherent = sweep(rng, scenarios, vector_norm=8.0)
        mean, low, high = effect(rel, trait, coherent)
        estimates.append(mean)
        covered.append(low <= SLOPE <= high)
        pooled.append(effect(rel, trait, np.ones_like(coherent))[0])   # incoherent generations counted
    bias, coverage = np.mean(estimates) - SLOPE, np.mean(covered)
    print(f"\n{scenarios} scenarios: mean estimate {np.mean(estimates):.2f} (planted {SLOPE}), coverage {coverage:.3f}; "
          f"counting incoherent generations: {np.mean(pooled):.2f}")
    assert abs(bias) <= 0.5 and coverage >= 0.92
    assert np.mean(pooled) < SLOPE - 0.75  # what the coherence filter prevents


def test_the_effect_per_coef_rel_norm_does_not_grow_with_the_vector_norm():
    """Two layers steer alike per unit coef_rel_norm, one with a vector 4x longer swept over
    coefficients 4x smaller (the same coef_rel_norm grid): per raw coefficient the longer one looks
    4x stronger, per coef_rel_norm the two agree."""
    for seed in range(20):
        rel_a, trait_a, keep_a = sweep(np.random.default_rng(seed), 8, vector_norm=2.0, coeffs=COEFFS * 4)
        rel_b, trait_b, keep_b = sweep(np.random.default_rng(seed), 8, vector_norm=8.0)
        assert effect(rel_a, trait_a, keep_a)[0] == pytest.approx(effect(rel_b, trait_b, keep_b)[0])
        raw_a = effect(np.broadcast_to(COEFFS * 4, rel_a.shape), trait_a, keep_a)[0]
        raw_b = effect(np.broadcast_to(COEFFS, rel_b.shape), trait_b, keep_b)[0]
        assert raw_b == pytest.approx(4 * raw_a)
