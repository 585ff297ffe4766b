"""trait_geometry's corrected cosine recovers and covers a planted cosine of 0.8.

Seeded: two cells whose pair differences are a direction plus isotropic noise (d = 2048), the two
directions at cosine 0.8, n = 4, 8 or 16 pairs and three signal-to-noise ratios (|mu|^2 / E|noise|^2
= 0.05, 0.2, 1). The cell vectors, their bootstrap replicates (extract.vectors.bootstrap_weights,
the default 50) and the mart's formulas (numpy here, written as trait_geometry.sql writes them:
norms from cross terms, each replicate's norm lowered by s^2/n + s^2/(n-1)) give a point cosine
and an interval per simulated pair of cells. The point must average 0.8 +- 0.03 and the interval
cover 0.8 at least 90% of the time; the plain cosine must be biased, so the test can tell."""

from __future__ import annotations

import numpy as np
import pytest

from extract.vectors import bootstrap_weights

HIDDEN, COSINE, SIMS, REPLICATES = 2048, 0.8, 80, 50


def corrected_norm_sq(mean: np.ndarray, diffs: np.ndarray) -> float:
    n = len(diffs)
    return (n * mean @ mean - np.mean((diffs ** 2).sum(1))) / (n - 1)


def replicate_noise(mean: np.ndarray, diffs: np.ndarray) -> float:
    n = len(diffs)
    return (np.mean((diffs ** 2).sum(1)) - mean @ mean) * (1 / n + 1 / (n - 1))


def bounded(dot, norm_a, norm_b):
    return np.clip(dot / np.sqrt(np.maximum(norm_a, 1e-150) * np.maximum(norm_b, 1e-150)), -1, 1)


def simulate(n: int, snr: float, rng: np.random.Generator) -> dict[str, float]:
    mu_a = rng.normal(size=HIDDEN)
    mu_a /= np.linalg.norm(mu_a)
    other = rng.normal(size=HIDDEN)
    other -= other @ mu_a * mu_a
    mu_b = COSINE * mu_a + np.sqrt(1 - COSINE ** 2) * other / np.linalg.norm(other)
    sigma = np.sqrt(1 / (snr * HIDDEN))
    points, plain, covered = [], [], 0
    for sim in range(SIMS):
        da, db = mu_a + sigma * rng.normal(size=(n, HIDDEN)), mu_b + sigma * rng.normal(size=(n, HIDDEN))
        ma, mb = da.mean(0), db.mean(0)
        na, nb = corrected_norm_sq(ma, da), corrected_norm_sq(mb, db)
        points.append(bounded(ma @ mb, na, nb) if na > 0 and nb > 0 else np.nan)
        plain.append(ma @ mb / np.linalg.norm(ma) / np.linalg.norm(mb))
        ra = bootstrap_weights(f"a{sim}", n, REPLICATES).numpy() @ da
        rb = bootstrap_weights(f"b{sim}", n, REPLICATES).numpy() @ db
        cosines = bounded((ra * rb).sum(1), (ra ** 2).sum(1) - replicate_noise(ma, da),
                          (rb ** 2).sum(1) - replicate_noise(mb, db))
        low, high = np.quantile(cosines, [0.025, 0.975])
        covered += low <= COSINE <= high
    return {"point": float(np.nanmean(points)), "undefined": float(np.mean(np.isnan(points))),
            "plain": float(np.mean(plain)), "coverage": covered / SIMS}


@pytest.mark.parametrize("n", [4, 8, 16])
def test_a_planted_cosine_of_0_8_is_recovered_and_covered(n):
    rng = np.random.default_rng(n)
    lines = []
    for snr in (0.05, 0.2, 1.0):
        got = simulate(n, snr, rng)
        lines.append(f"snr {snr}: corrected {got['point']:.3f} (undefined {got['undefined']:.2f}), "
                     f"plain {got['plain']:.3f}, coverage {got['coverage']:.3f}")
        assert abs(got["point"] - COSINE) <= 0.03, lines[-1]
        assert got["coverage"] >= 0.90, lines[-1]
        assert got["plain"] < COSINE - 0.03, lines[-1]
    print(f"\nn = {n}, d = {HIDDEN}, true cosine {COSINE}, {REPLICATES} replicates:\n  " + "\n  ".join(lines))
