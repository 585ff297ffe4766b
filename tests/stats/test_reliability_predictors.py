"""layer_choice's reliability predictors (Braun et al. 2025) recover planted truth.

Seeded. Per simulated cell, n pair differences d_i = mu + noise (|mu| = 1, isotropic noise, d = 2048)
with the noise scaled so the pairwise cosine is rho in expectation (|mu|^2 / (|mu|^2 + E|noise|^2)).
extract/vectors.py's per-pair sufficient statistics (each pair's mean cosine, and mean squared
cosine, to the cell's other pairs) go through layer_choice's formulas (written here in numpy as
layer_choice.sql writes them; its dbt unit test pins the SQL to a hand computation): the mean
pairwise cosine must recover rho, and equal, with the sd, the brute-force mean and sd over all
distinct pairs of pairs. On noise (pos and neg from one distribution) the mean cosine and the pole
separation (d' of the held-out projections by prompted pole) must be about 0; the in-sample
projections must not be, so the simulation can tell leakage from none."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from extract.masks import Encoded
from extract.vectors import REDUCTIONS, PairInput, cell_vectors_and_stats

HIDDEN = 2048


def run_extraction(pos: torch.Tensor, neg: torch.Tensor, n_pairs: int):
    """cell_vectors_and_stats over cells of n_pairs consecutive rows of pos/neg (N, d): response_mean stats."""
    n = pos.shape[0]
    pairs = [PairInput(f"p{i}", f"c{i // n_pairs}", "s", "s", "u", "p", "n") for i in range(n)]
    enc = [Encoded([1, 2, 3, 4], 2, 4)] * n
    _, stats = cell_vectors_and_stats(pairs, [0], {r: pos[:, None] for r in REDUCTIONS},
                                      {r: neg[:, None] for r in REDUCTIONS}, enc, enc)
    by_cell: dict[str, list] = {}
    for s in stats:
        if s.reduction == "response_mean":
            by_cell.setdefault(s.cell_id, []).append(s)
    return list(by_cell.values())


def predictors(rows) -> dict[str, float]:
    """layer_choice.sql: pair_cosine_mean, pair_cosine_sd, pole_separation from one vector's rows."""
    n = len(rows)
    mean = np.mean([s.cosine_to_others_mean for s in rows])
    mean_sq = np.mean([s.cosine_sq_to_others_mean for s in rows])
    m = n * (n - 1) / 2
    sd = np.sqrt(max(0.0, mean_sq - mean ** 2) * m / (m - 1)) if n >= 3 else np.nan
    pos = np.array([s.pos_heldout_projection for s in rows])
    neg = np.array([s.neg_heldout_projection for s in rows])
    separation = (pos.mean() - neg.mean()) / np.sqrt((pos.var(ddof=1) + neg.var(ddof=1)) / 2)
    return {"mean": mean, "sd": sd, "separation": separation}


def planted_differences(rng: np.random.Generator, cells: int, n: int, rho: float) -> np.ndarray:
    mu = rng.normal(size=HIDDEN)
    mu /= np.linalg.norm(mu)
    sigma = np.sqrt((1 - rho) / rho / HIDDEN)    # E|noise|^2 = (1 - rho) / rho, |mu|^2 = 1
    return mu + sigma * rng.normal(size=(cells * n, HIDDEN))


@pytest.mark.parametrize("rho", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("n", [4, 12])
def test_the_mean_pairwise_cosine_recovers_a_planted_value(rho, n):
    rng = np.random.default_rng(int(rho * 100) + n)
    cells = 30
    diffs = planted_differences(rng, cells, n, rho)
    neg = rng.normal(size=diffs.shape)                 # any baseline: only pos - neg enters the cosines
    found = run_extraction(torch.tensor(neg + diffs, dtype=torch.float32), torch.tensor(neg, dtype=torch.float32), n)
    means, sds = [], []
    for c, rows in enumerate(found):
        got = predictors(rows)
        block = diffs[c * n:(c + 1) * n]
        unit = block / np.linalg.norm(block, axis=1, keepdims=True)
        brute = [unit[i] @ unit[j] for i, j in itertools.combinations(range(n), 2)]
        assert got["mean"] == pytest.approx(np.mean(brute), abs=1e-5)
        assert got["sd"] == pytest.approx(np.std(brute, ddof=1), abs=1e-3)
        means.append(got["mean"])
        sds.append(got["sd"])
    print(f"\nrho {rho}, n {n}: mean pairwise cosine {np.mean(means):.3f} (sd over cells {np.std(means):.3f}), "
          f"mean sd {np.mean(sds):.3f}")
    assert np.mean(means) == pytest.approx(rho, abs=0.02)
    assert np.all(np.abs(np.array(means) - rho) < 0.1)


def test_on_noise_the_predictors_are_about_zero():
    torch.manual_seed(31)
    cells, n, d = 300, 6, 64
    pos, neg = torch.randn(cells * n, d), torch.randn(cells * n, d)
    found = run_extraction(pos, neg, n)
    got = [predictors(rows) for rows in found]
    mean = np.array([g["mean"] for g in got])
    separation = np.array([g["separation"] for g in got])
    in_sample = []
    for rows in found:
        p, q = np.array([s.pos_projection for s in rows]), np.array([s.neg_projection for s in rows])
        in_sample.append((p.mean() - q.mean()) / np.sqrt((p.var(ddof=1) + q.var(ddof=1)) / 2))
    print(f"\nnoise, {cells} cells of {n} pairs: mean pairwise cosine {mean.mean():+.4f}, held-out pole "
          f"separation {separation.mean():+.3f} (sd {separation.std():.2f}), in-sample {np.mean(in_sample):+.2f}")
    assert abs(mean.mean()) < 0.01
    assert abs(separation.mean()) < 0.1
    assert np.mean(in_sample) > 1.0


def test_a_planted_pole_difference_separates():
    rng = np.random.default_rng(5)
    cells, n = 40, 8
    diffs = planted_differences(rng, cells, n, 0.5)
    neg = rng.normal(size=diffs.shape) * 0.02          # the poles' spread along mu is small beside |mu| = 1
    found = run_extraction(torch.tensor(neg + diffs, dtype=torch.float32), torch.tensor(neg, dtype=torch.float32), n)
    separation = np.array([predictors(rows)["separation"] for rows in found])
    assert np.all(separation > 3)
