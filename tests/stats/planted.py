"""Planted cells for the statistics simulations: pairs drawn from a known distribution, so the
true score (the guide's formula at the population means) is known.

The guide's score is written here once more, in numpy, because the simulations need it
vectorised; tests/core/test_bootstrap.py pins the interval method's SQL to the same formula on
the pilot, so what these simulations show holds for what dbt computes."""

from __future__ import annotations

import numpy as np

# per pair: is_strict_pass, axis_delta, off_axis_problem, max_style_abs_delta, echo, refusal
WORST = np.array([0, -8, 7, 6, 1, 1], dtype=float)
BEST = np.array([1, 8, 1, 0, 0, 0], dtype=float)

# cell kinds: mean axis delta, its spread, mean off-axis problem, mean style delta, echo rate, refusal rate
KINDS = {
    "strong": (5.0, 1.5, 1.3, 0.8, 0.03, 0.02),
    "middling": (3.0, 2.0, 2.0, 1.2, 0.05, 0.05),
    "weak": (1.5, 2.0, 2.5, 1.5, 0.10, 0.05),
    "dead": (0.0, 2.0, 3.5, 2.0, 0.10, 0.10),
    "clean": (7.0, 0.5, 1.0, 0.0, 0.0, 0.0),
    "echoing": (5.0, 1.0, 1.0, 0.5, 0.5, 0.0),
}


def score(means: np.ndarray) -> np.ndarray:
    """The guide's clean-axis score of (..., 6) means (dbt/macros/scoring.sql)."""
    clamp = lambda x: np.clip(x, 0.0, 1.0)  # noqa: E731
    m = means
    return (100 * m[..., 0] * clamp(m[..., 1] / 8) * clamp((7 - m[..., 2]) / 6) * clamp((6 - m[..., 3]) / 6)
            * (1 - m[..., 4]) * (1 - m[..., 5]))


def draw_pairs(rng: np.random.Generator, kind, shape: tuple) -> np.ndarray:
    """Pairs of one kind, (*shape, 6): integer judge deltas, and the strict pass by the guide's gate
    (axis >= 3, off-axis <= 2, style <= 2, no echo, no refusal)."""
    mu_axis, sd_axis, mu_off, mu_style, p_echo, p_refusal = kind
    axis = np.clip(np.rint(rng.normal(mu_axis, sd_axis, shape)), -8, 8)
    off = np.clip(np.rint(rng.normal(mu_off, 1.0, shape)), 1, 7)
    style = np.clip(np.rint(np.abs(rng.normal(mu_style, 1.0, shape))), 0, 6)
    echo, refusal = rng.random(shape) < p_echo, rng.random(shape) < p_refusal
    passed = (axis >= 3) & (off <= 2) & (style <= 2) & ~echo & ~refusal
    return np.stack([passed, axis, off, style, echo, refusal], axis=-1).astype(float)


def true_score(kind, rng: np.random.Generator, draws: int = 200_000) -> float:
    return float(score(draw_pairs(rng, kind, (draws,)).mean(axis=0)))


def anchored_interval(rng: np.random.Generator, pairs: np.ndarray, replicates: int = 200, level: float = 0.95,
                      anchored: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """int_cell_scores' interval for cells (cells, n, 6): Exp(1) weights per pair and replicate plus
    one pseudo-pair at the worst (lower) / best (upper) values; anchored=False is the plain
    Bayesian bootstrap, for comparison."""
    cells, n, _ = pairs.shape
    weights = rng.exponential(size=(cells, replicates, n))
    anchor = rng.exponential(size=(cells, replicates, 1)) if anchored else np.zeros((cells, replicates, 1))
    sums, total = np.einsum("crn,cnk->crk", weights, pairs), weights.sum(-1, keepdims=True) + anchor
    low = score((sums + anchor * WORST) / total)
    high = score((sums + anchor * BEST) / total)
    tail = (1 - level) / 2
    return np.quantile(low, tail, axis=1), np.quantile(high, 1 - tail, axis=1)
