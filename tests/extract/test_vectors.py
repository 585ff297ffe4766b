"""Hooked batched extraction: equals one-at-a-time, follows the layer convention, pos - neg."""

from __future__ import annotations

import torch

from extract.masks import encode_pair_side, prompt_messages
from extract.model_io import Provenance, provenance_for
from extract.store import load_vector, save_cell_file
from extract.vectors import PairInput, extract_activations, extract_cells

LAYERS = [0, 2]


def pairs(n=6):
    return [PairInput(f"p{i}", f"c{i % 2}", "You are a bold person.", "You are a cautious person.",
                      "What should the manager do? " * (i % 3 + 1), "I will report it openly. " * (i + 1),
                      "I would keep quiet." * (1 + i % 2)) for i in range(n)]


def test_response_span_comes_from_the_template(tiny):
    _, tokenizer = tiny
    messages = prompt_messages(tokenizer, "You are bold.", "What now?")
    encoded = encode_pair_side(tokenizer, messages, "I will report it openly.")
    ids = encoded.input_ids
    assert tokenizer.decode(ids[encoded.response_start:encoded.response_end]) == "I will report it openly."
    assert tokenizer.decode(ids[encoded.response_end:]) == "<|im_end|>\n"
    assert tokenizer.decode(ids[: encoded.response_start]).endswith("<|im_start|>assistant\n")


def test_batched_equals_one_at_a_time(tiny):
    model, tokenizer = tiny
    batched, _ = extract_cells(model, tokenizer, pairs(), LAYERS, max_batch_size=4)
    single, _ = extract_cells(model, tokenizer, pairs(), LAYERS, max_batch_size=1)
    assert len(batched) == len(single) == 2 * 2 * len(LAYERS)
    for a, b in zip(batched, single):
        assert (a.cell_id, a.layer, a.reduction) == (b.cell_id, b.layer, b.reduction)
        assert torch.allclose(a.vector, b.vector, atol=1e-4)


def test_hooked_means_match_hidden_states_l_plus_1(tiny):
    """Layer L = output of model.layers[L] = hidden_states[L + 1]. (Not checked on the
    last layer: transformers 5 applies the final norm to the last hidden_states entry.)"""
    model, tokenizer = tiny
    messages = prompt_messages(tokenizer, "You are bold.", "What now?")
    items = [encode_pair_side(tokenizer, messages, "I will report it. " * k) for k in (1, 3)]
    layers = [0, 1]
    acts = extract_activations(model, items, layers, tokenizer.pad_token_id, max_batch_size=2)
    for row, e in enumerate(items):
        with torch.inference_mode():
            hidden = model(input_ids=torch.tensor([e.input_ids]), output_hidden_states=True).hidden_states
        for slot, layer in enumerate(layers):
            expected = hidden[layer + 1][0, e.response_start:e.response_end].mean(0)
            assert torch.allclose(acts["response_mean"][row, slot], expected, atol=1e-4)
            assert torch.allclose(acts["prompt_last"][row, slot], hidden[layer + 1][0, e.last_prompt_index],
                                  atol=1e-4)


def test_the_sign_is_pos_minus_neg(tiny):
    model, tokenizer = tiny
    forward, forward_stats = extract_cells(model, tokenizer, pairs(), LAYERS)
    swapped_pairs = [PairInput(p.pair_id, p.cell_id, p.neg_system, p.pos_system, p.user, p.neg_response,
                               p.pos_response) for p in pairs()]
    swapped, _ = extract_cells(model, tokenizer, swapped_pairs, LAYERS)
    for a, b in zip(forward, swapped):
        assert torch.allclose(a.vector, -b.vector, atol=1e-5)
    # the mean pair diff projects onto its own cell vector with the vector's norm
    cell0 = [s for s in forward_stats if s.cell_id == "c0" and s.layer == 2 and s.reduction == "response_mean"]
    vector = next(v for v in forward if v.cell_id == "c0" and v.layer == 2 and v.reduction == "response_mean")
    mean_gap = sum(s.pos_projection - s.neg_projection for s in cell0) / len(cell0)
    assert abs(mean_gap - vector.norm) < 1e-3


def test_vector_round_trips_through_safetensors(tiny, tmp_path):
    model, tokenizer = tiny
    vectors, _ = extract_cells(model, tokenizer, pairs(2), LAYERS)
    cell = [v for v in vectors if v.cell_id == "c0"]
    prov = provenance_for(model, tokenizer, "tiny-qwen2", "rev1")
    assert isinstance(prov, Provenance) and prov.chat_template_hash
    path = tmp_path / "c0.safetensors"
    save_cell_file(path, cell, {**prov.as_dict(), "cell_id": "c0"})
    loaded, provenance = load_vector(path, layer=2, reduction="response_mean")
    original = next(v for v in cell if v.layer == 2 and v.reduction == "response_mean")
    assert torch.equal(loaded, original.vector)
    assert provenance["model_id"] == "tiny-qwen2" and provenance["model_revision"] == "rev1"
    assert provenance["chat_template_hash"] == prov.chat_template_hash
    assert provenance["layer_convention"].startswith("output of model.layers[L]")
