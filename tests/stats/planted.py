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
                      anchored: bool = True, errors: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """int_cell_scores' interval for cells (cells, n, 6), failed pairs marked in errors (cells, n):
    the replicate_scores quantiles; anchored=False is the plain Bayesian bootstrap over the
    successful pairs (Exp(1) weights, no pseudo-pair, failures dropped), for comparison."""
    tail = (1 - level) / 2
    if anchored:
        drawn = replicate_scores(rng, pairs, errors, replicates)
        return np.quantile(drawn["low"], tail, axis=1), np.quantile(drawn["high"], 1 - tail, axis=1)
    kept = np.ones(pairs.shape[:2]) if errors is None else (~errors).astype(float)
    weights = rng.exponential(size=(pairs.shape[0], replicates, pairs.shape[1])) * kept[:, None, :]
    means = np.einsum("crn,cnk->crk", weights, pairs) / weights.sum(-1, keepdims=True)
    return np.quantile(score(means), tail, axis=1), np.quantile(score(means), 1 - tail, axis=1)


def replicate_scores(rng: np.random.Generator, pairs: np.ndarray, errors: np.ndarray | None = None,
                     replicates: int = 200) -> dict[str, np.ndarray]:
    """int_cell_scores' replicates for cells (cells, n, 6) with a failed-pair mask (cells, n) (failed
    pairs' values are ignored): one weight table of (replicates, n + 1) Exp(1) draws (column 0 the
    pseudo-pair's) and a uniform u_centre per row, each cell reading row (r + its offset) mod R.
    Returns (cells, R) scores with the unknown weight (pseudo-pair + failed pairs) at the worst
    values ('low'), the best ('high') and worst + u_centre (best - worst) ('draw')."""
    cells, n, _ = pairs.shape
    errors = np.zeros((cells, n), bool) if errors is None else errors
    table, u_centre = rng.exponential(size=(replicates, n + 1)), rng.random(replicates)
    rows = (np.arange(replicates)[None, :] + rng.integers(replicates, size=(cells, 1))) % replicates
    weights = table[rows]                                       # (cells, R, n + 1)
    w_pairs = weights[..., 1:] * ~errors[:, None, :]
    unknown = weights[..., 0] + (weights[..., 1:] * errors[:, None, :]).sum(-1)
    sums = np.einsum("crn,cnk->crk", w_pairs, np.where(errors[..., None], 0.0, pairs))
    total = (w_pairs.sum(-1) + unknown)[..., None]
    centre = WORST + u_centre[rows][..., None] * (BEST - WORST)
    return {"low": score((sums + unknown[..., None] * WORST) / total),
            "high": score((sums + unknown[..., None] * BEST) / total),
            "draw": score((sums + unknown[..., None] * centre) / total)}


def p_top_k(draws: np.ndarray, k: int) -> np.ndarray:
    """int_cell_scores' p_top_k for the cells of one measurement, draws (cells, R): the share of
    replicates in which a cell's draw is at or above the k-th highest."""
    bar = np.sort(draws, axis=0)[-k] if draws.shape[0] >= k else np.full(draws.shape[1], -1.0)
    return (draws >= bar).mean(axis=1)
