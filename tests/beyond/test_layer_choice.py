"""layer_choice: a planted layer where the judged poles separate by construction is picked; a swept
layer that separates and steers the judged trait takes over; the pilot with the tiny model gets one
recommended layer per cell."""

from __future__ import annotations

import duckdb
import torch
from beyond_helpers import query, run_psw

from extract.masks import Encoded
from extract.model_io import Provenance
from extract.steer import Scenario, store_sweep
from extract.store import md5, now, write_extraction
from extract.vectors import REDUCTIONS, PairInput, cell_vectors_and_stats

LAYERS = [0, 1, 2, 3]
PLANTED, STEERED = 2, 3
HIDDEN = 16


def planted_activations(signs: list[int]) -> tuple[dict, dict]:
    """(pos, neg) activations (n, layers, d): at layer 2 the judged-positive completion sits at +3u and
    the other at -3u (noise 0.3); at layer 3 at +-1u with noise 0.7; layers 0 and 1 are noise only.
    (Noise 1 at layer 3 separated only in-sample: held out of each pair, 4 pairs in 16 dimensions
    give AUROC 0.56 there, which is what the data say.)"""
    torch.manual_seed(0)
    n = len(signs)
    unit = torch.zeros(HIDDEN)
    unit[0] = 1.0
    sign = torch.tensor(signs, dtype=torch.float32)[:, None]
    pos, neg = torch.randn(n, len(LAYERS), HIDDEN), torch.randn(n, len(LAYERS), HIDDEN)
    for slot, scale, noise in ((PLANTED, 3.0, 0.3), (STEERED, 1.0, 0.7)):
        pos[:, slot] = sign * scale * unit + noise * torch.randn(n, HIDDEN)
        neg[:, slot] = -sign * scale * unit + noise * torch.randn(n, HIDDEN)
    return ({r: pos for r in REDUCTIONS}, {r: neg for r in REDUCTIONS})


def plant(db, cell_id: str) -> None:
    con = duckdb.connect(str(db))
    try:
        judged = con.execute("select pair_id, axis_delta from main.examples where cell_id = ? and not is_error "
                             "and axis_delta <> 0 order by pair_id", [cell_id]).fetchall()
        pairs = [PairInput(pair_id, cell_id, "s", "s", "u", "p", "n") for pair_id, _ in judged]
        pos, neg = planted_activations([1 if delta > 0 else -1 for _, delta in judged])
        enc = [Encoded([1, 2, 3, 4], 2, 4)] * len(pairs)
        vectors, stats = cell_vectors_and_stats(pairs, LAYERS, pos, neg, enc, enc)
        prov = Provenance("planted-model", None, None, "output of model.layers[L]", "fp32", len(LAYERS), HIDDEN)
        write_extraction(con, db, prov, None, LAYERS, False, {}, vectors, stats)
    finally:
        con.close()


def sweep_layer(db, cell_id: str, layer: int) -> None:
    """A judged sweep with the layer's vector over three scenarios, all coherent: trait 50 + b * coeff
    with b = 9, 10, 11, a vector of norm 1 on a residual of norm 2 (coef_rel_norm = coeff / 2): per
    unit of coef_rel_norm the slopes are 18, 20, 22, so the effect is 20 with a 95% t interval of
    20 -+ 4.303 * 2 / sqrt(3) = 15.03 to 24.97."""
    con = duckdb.connect(str(db))
    try:
        vector_id = con.execute("select vector_id from raw.activation_vectors where cell_id = ? and layer = ? "
                                "and reduction = 'response_mean'", [cell_id, layer]).fetchone()[0]
        results = [{"coeff": c, "scenario": Scenario(f"s{b}", f"What now, {b}?"), "text": f"answer {b} {c}",
                    "n_tokens": 2, "projection": c, "vector_norm": 1.0, "residual_norm": 2.0, "slope": b}
                   for b in (9, 10, 11) for c in (-2.0, 0.0, 2.0)]
        ids = store_sweep(con, {"vector_id": vector_id, "cell_id": cell_id, "layer": layer}, "response", results,
                          8, 0.0, 0, "planted-model", None)
        judged = [(gid, "trait", 50.0 + r["slope"] * r["coeff"]) for gid, r in zip(ids, results)]
        judged += [(gid, "coherence", 90.0) for gid in ids]
        con.executemany("insert into raw.steering_judgments values (?, ?, 'judge', ?, 'h', ?, '', null, ?)",
                        [(md5(gid, criterion), gid, criterion, score, now()) for gid, criterion, score in judged])
    finally:
        con.close()


def recommended(db, cell_id: str) -> list[tuple]:
    return query(db, "select layer, recommendation_reason, auroc from main.layer_choice where cell_id = ? "
                     "and reduction = 'response_mean' and is_recommended", [cell_id])


def test_layer_choice_picks_the_planted_layer_then_the_steered_one(pilot_copy, top_cell):
    plant(pilot_copy, top_cell)
    run_psw(pilot_copy, "build")
    [(layer, reason, auroc)] = recommended(pilot_copy, top_cell)
    assert layer == PLANTED and auroc == 1.0
    assert reason.startswith("best separation of judged-positive from judged-negative completions of 4 layers")
    ranks = query(pilot_copy, "select layer, layer_rank, d_prime, direction_consistency from main.layer_choice "
                              "where cell_id = ? and reduction = 'response_mean' order by layer_rank", [top_cell])
    assert [r[1] for r in ranks] == [1, 2, 3, 4] and ranks[0][2] > 5 * max(r[2] for r in ranks[1:])
    # the planted layer's pair differences all point one way: 6^2 / (6^2 + 2 * 0.3^2 * 16) = 0.93
    assert ranks[0][3] > 0.85

    sweep_layer(pilot_copy, top_cell, STEERED)
    run_psw(pilot_copy, "build")
    [(layer, reason, auroc)] = recommended(pilot_copy, top_cell)
    assert layer == STEERED and auroc >= 0.6
    assert reason.startswith("highest lower bound of the judged steering effect of 1 swept layers"), reason
    assert "+20.00 trait points per unit coef_rel_norm (95% CI +15.03 to +24.97 over 3 scenarios" in reason


def test_layer_choice_on_the_pilot_with_the_tiny_model(screened_db):
    per_cell = query(screened_db, """
        select cell_id, reduction, count(*) filter (where is_recommended),
               count(*) filter (where layer_rank is not null),
               count(recommendation_reason), min(auroc), max(auroc)
        from main.layer_choice group by all""")
    n_cells = query(screened_db, "select count(distinct cell_id) from main.pair_screening")[0][0]
    assert len(per_cell) == 2 * n_cells  # every extracted cell, both token reductions
    for cell_id, reduction, n_recommended, n_ranked, n_reasons, low, high in per_cell:
        assert n_recommended == n_reasons == (1 if n_ranked else 0), (cell_id, reduction)
        assert low is None or 0 <= low <= high <= 1
    # a pilot cell whose pairs the judges all tied (axis_delta 0) has nothing to rank
    assert any(r[3] == 0 for r in per_cell) and any(r[3] > 0 for r in per_cell)
