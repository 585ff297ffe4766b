"""pair_screening on the reference pilot plus a planted cell, vectors from the tiny in-test model."""

from __future__ import annotations

import duckdb
import torch
from beyond_helpers import query

from extract.model_io import load_model
from extract.store import load_pairs
from extract.vectors import encode_pairs, extract_activations


def test_screening_flags_the_planted_contradictory_pair(screened_db, planted_cell, planted_pair):
    rows = query(screened_db, """
        select pair_id, layer, judge_label, screening_flag, agreement_cosine, projection_delta
        from main.pair_screening where cell_id = ? and reduction = 'response_mean' order by layer, pair_id""",
                 [planted_cell])
    assert {layer for _, layer, *_ in rows} == {0, 1, 2} and len(rows) == 3 * 4
    for pair_id, layer, label, flag, agreement, delta in rows:
        assert label == "positive"  # every planted pair is judged positive
        if pair_id == planted_pair:
            assert flag == "projects_against_judges" and agreement < -0.5, (layer, agreement)
            assert delta < 0  # even with itself in the vector, it projects the wrong way
        else:
            assert flag is None and agreement > 0.5, (pair_id, layer, agreement)


def test_screening_covers_every_extracted_pair_of_the_pilot(screened_db):
    stats, screened, labelled = query(screened_db, """
        select (select count(*) from raw.activation_pair_stats),  -- (staging is folded into its readers)
               (select count(*) from main.pair_screening),
               (select count(*) from main.pair_screening where judge_label in ('positive', 'negative')
                                                         and agreement_cosine is not null)""")[0]
    assert stats == screened > 0 and labelled > 0
    # a flag is exactly "held-out cosine in the judged direction below the margin"
    bad = query(screened_db, """
        select count(*) from main.pair_screening
        where is_flagged <> coalesce(agreement_cosine < 0.05, false)""")[0][0]
    assert bad == 0


def test_heldout_margin_matches_the_activations(screened_db, planted_cell, tiny_model_dir):
    """The held-out margin the mart recovers from stored scalars equals the one computed from the
    pair differences themselves: (pos - neg) . u / |u|, u = mean difference of the other pairs."""
    con = duckdb.connect(str(screened_db), read_only=True)
    try:
        pairs = load_pairs(con, cell_id=planted_cell)
        rows = con.execute("""
            select pair_id, heldout_margin, pos_heldout_projection, neg_heldout_projection from main.pair_screening
            where cell_id = ? and layer = 1 and reduction = 'response_mean'""", [planted_cell]).fetchall()
        stored = {r[0]: r[1] for r in rows}
        projections = {r[0]: r[2:] for r in rows}
    finally:
        con.close()
    model, tokenizer, _ = load_model(str(tiny_model_dir), dtype="fp32", device="cpu")
    pos_enc, neg_enc = encode_pairs(tokenizer, pairs)
    acts = extract_activations(model, pos_enc + neg_enc, [1], tokenizer.pad_token_id)["response_mean"][:, 0]
    diffs = acts[: len(pairs)] - acts[len(pairs):]
    for i, pair in enumerate(pairs):
        others = torch.cat([diffs[:i], diffs[i + 1:]]).mean(0)
        expected = float(diffs[i] @ others / others.norm())
        assert abs(stored[pair.pair_id] - expected) <= 1e-3 * max(1.0, abs(expected)), (pair.pair_id, expected)
        # the completions' own held-out projections (what layer_choice's AUROC reads) agree with it
        pos_held, neg_held = projections[pair.pair_id]
        assert abs(pos_held - float(acts[i] @ others / others.norm())) <= 1e-3 * max(1.0, abs(pos_held))
        assert abs((pos_held - neg_held) - expected) <= 1e-3 * max(1.0, abs(expected))
