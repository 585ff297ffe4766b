"""Activation separation on pure noise (extract/vectors.py's held-out projections, layer_choice).

Seeded: 300 cells of 4 pairs whose activations are noise only (no trait, d = 64); the judges call
every pair positive (as in cells picked for their judged effect) or label them at random. Per cell
AUROC and d' are layer_choice's formulas over the completions' projections, and the consistency is
its unbiased ratio. On noise all three must say "nothing here": AUROC 0.5 +- 0.1 and d' and the
consistency near 0. The in-sample projections (the vector containing the pair) must fail, so the
simulation can tell leakage from none."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from extract.masks import Encoded
from extract.vectors import REDUCTIONS, PairInput, cell_vectors_and_stats

CELLS, PAIRS, HIDDEN = 300, 4, 64


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a judged-positive projection > a judged-negative one), ties one half (layer_choice.sql)."""
    diff = positive[:, None] - negative[None, :]
    return float(np.mean((diff > 0) + 0.5 * (diff == 0)))


def d_prime(positive: np.ndarray, negative: np.ndarray) -> float:
    return float((positive.mean() - negative.mean()) / np.sqrt((positive.var(ddof=1) + negative.var(ddof=1)) / 2))


@pytest.fixture(scope="module")
def noise_cells():
    torch.manual_seed(29)
    pairs = [PairInput(f"p{c}_{i}", f"c{c}", "s", "s", "u", "p", "n") for c in range(CELLS) for i in range(PAIRS)]
    pos, neg = torch.randn(len(pairs), 1, HIDDEN), torch.randn(len(pairs), 1, HIDDEN)
    enc = [Encoded([1, 2, 3, 4], 2, 4)] * len(pairs)
    vectors, stats = cell_vectors_and_stats(pairs, [0], {r: pos for r in REDUCTIONS}, {r: neg for r in REDUCTIONS},
                                            enc, enc)
    stats = [s for s in stats if s.reduction == "response_mean"]
    norms = {v.cell_id: v.norm for v in vectors if v.reduction == "response_mean"}
    return stats, norms


def per_cell(stats, norms, labels: str, heldout: bool, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    by_cell: dict[str, list] = {}
    for s in stats:
        by_cell.setdefault(s.cell_id, []).append(s)
    out = {"auroc": [], "d_prime": [], "consistency": []}
    for cell_id, rows in by_cell.items():
        pos = np.array([s.pos_heldout_projection if heldout else s.pos_projection for s in rows])
        neg = np.array([s.neg_heldout_projection if heldout else s.neg_projection for s in rows])
        sign = np.ones(len(rows)) if labels == "all_positive" else rng.choice([-1, 1], len(rows))
        judged_pos, judged_neg = np.where(sign > 0, pos, neg), np.where(sign > 0, neg, pos)
        out["auroc"].append(auroc(judged_pos, judged_neg))
        out["d_prime"].append(d_prime(judged_pos, judged_neg))
        n, msq = len(rows), np.mean([s.diff_norm ** 2 for s in rows])
        out["consistency"].append((n * norms[cell_id] ** 2 - msq) / ((n - 1) * msq))
    return {k: np.array(v) for k, v in out.items()}


@pytest.mark.parametrize("labels", ["all_positive", "random"])
def test_held_out_separation_on_noise_is_chance(noise_cells, labels):
    held = per_cell(*noise_cells, labels, heldout=True)
    print(f"\nnoise, {CELLS} cells of {PAIRS} pairs, judges {labels}: held-out AUROC mean "
          f"{held['auroc'].mean():.3f} (share >= 0.6: {np.mean(held['auroc'] >= 0.6):.2f}), d' mean "
          f"{held['d_prime'].mean():.3f}, consistency mean {held['consistency'].mean():.3f}")
    assert abs(held["auroc"].mean() - 0.5) <= 0.1
    assert abs(np.median(held["auroc"]) - 0.5) <= 0.1
    assert abs(held["d_prime"].mean()) <= 0.15
    assert abs(held["consistency"].mean()) <= 0.03


def test_in_sample_separation_on_noise_is_what_the_issue_found(noise_cells):
    leaky = per_cell(*noise_cells, "all_positive", heldout=False)
    print(f"\nin-sample on the same noise: AUROC 1.0 in {np.mean(leaky['auroc'] == 1.0):.0%} of cells, "
          f"d' median {np.median(leaky['d_prime']):.1f}")
    assert np.mean(leaky["auroc"] == 1.0) > 0.9 and np.median(leaky["d_prime"]) > 2


def test_held_out_separation_still_finds_a_planted_trait():
    torch.manual_seed(1)
    n = 40 * PAIRS
    pairs = [PairInput(f"p{i}", f"c{i // PAIRS}", "s", "s", "u", "p", "n") for i in range(n)]
    trait = torch.zeros(HIDDEN)
    trait[0] = 1.5
    pos, neg = torch.randn(n, 1, HIDDEN) + trait, torch.randn(n, 1, HIDDEN) - trait
    enc = [Encoded([1, 2, 3, 4], 2, 4)] * n
    vectors, stats = cell_vectors_and_stats(pairs, [0], {r: pos for r in REDUCTIONS}, {r: neg for r in REDUCTIONS},
                                            enc, enc)
    norms = {v.cell_id: v.norm for v in vectors if v.reduction == "response_mean"}
    found = per_cell([s for s in stats if s.reduction == "response_mean"], norms, "all_positive", heldout=True)
    assert found["auroc"].mean() > 0.75 and found["d_prime"].mean() > 1
    # the consistency recovers the planted |mu|^2 / E|d|^2 = 3^2 / (3^2 + 2 * 64)
    assert found["consistency"].mean() == pytest.approx(9 / 137, abs=0.02)
