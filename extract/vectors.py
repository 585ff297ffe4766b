"""Hooked, batched, teacher-forced extraction; contrastive cell vectors; per-pair scalars.

Per pair and layer, each side is reduced inside the layer hook to two fp32 vectors:
the mean over response tokens and the last prompt token. The cell vector is the mean
over the cell's pairs of (pos - neg). Only scalars per pair leave this module, and, with
`bootstrap` replicates, the cell vector recomputed over the cell's pairs resampled with
replacement (what the trait-geometry cosines' intervals are drawn from).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import hashlib

import torch
from torch import Tensor, nn

from extract.masks import Encoded, encode_pair_side, pole_messages, supports_system
from extract.model_io import base_model, decoder_layers

REDUCTIONS = ("response_mean", "prompt_last")


@dataclass(frozen=True)
class PairInput:
    pair_id: str
    cell_id: str
    pos_system: str
    neg_system: str
    user: str
    pos_response: str
    neg_response: str
    # the messages sent to generate each pole, when recorded; None: rebuilt from the persona
    # prompt (pos/neg_system) and the scenario (user)
    pos_messages: list[dict] | None = None
    neg_messages: list[dict] | None = None

    @property
    def prompt_reconstructed(self) -> bool:
        return self.pos_messages is None or self.neg_messages is None


@dataclass(frozen=True)
class CellVector:
    cell_id: str
    layer: int
    reduction: str
    pair_ids: tuple[str, ...]
    vector: Tensor  # (d,) fp32, cpu
    replicates: Tensor | None = None  # (bootstrap, d) fp32, cpu: the vector over resampled pairs

    @property
    def norm(self) -> float:
        return float(self.vector.norm())


@dataclass(frozen=True)
class PairStat:
    pair_id: str
    cell_id: str
    layer: int
    reduction: str
    diff_norm: float
    pos_projection: float
    neg_projection: float
    cosine: float
    n_pos_tokens: int
    n_neg_tokens: int
    # projections on the cell vector without this pair (the mean of the other pairs' differences,
    # unit length): what AUROC, d' and screening read, so no pair is scored by a vector that
    # contains it; None in a one-pair cell
    pos_heldout_projection: float | None = None
    neg_heldout_projection: float | None = None
    # the mean over the cell's other pairs j of cos(d_i, d_j) and of its square (d = pos - neg):
    # sufficient for the mean and spread of the pairwise cosines (layer_choice); None in a one-pair cell
    cosine_to_others_mean: float | None = None
    cosine_sq_to_others_mean: float | None = None


class _StopForward(Exception):
    """Raised by the deepest requested layer: later layers need not run."""


@torch.inference_mode()
def extract_activations(model: nn.Module, items: Sequence[Encoded], layers: Sequence[int],
                        pad_token_id: int, max_batch_size: int = 16, max_batch_tokens: int = 8192,
                        progress: Callable[[int], None] | None = None) -> dict[str, Tensor]:
    """{'response_mean', 'prompt_last'}: (n_items, n_layers, d) fp32 on cpu, in item order."""
    device = next(model.parameters()).device
    blocks = decoder_layers(model)
    hidden_size = int(model.config.get_text_config().hidden_size)
    out = {name: torch.zeros(len(items), len(layers), hidden_size) for name in REDUCTIONS}
    state: dict[str, Tensor] = {}

    def make_hook(slot: int, last: bool):
        def hook(module, inputs, output):
            hidden = (output[0] if isinstance(output, tuple) else output).float()
            mask = state["response_mask"]
            state["response_mean"][:, slot] = torch.einsum("bsd,bs->bd", hidden, mask) / state["n_response"]
            state["prompt_last"][:, slot] = hidden[state["rows"], state["last_prompt"]]
            if last:
                raise _StopForward
        return hook

    deepest = max(layers)
    handles = [blocks[layer].register_forward_hook(make_hook(slot, layer == deepest))
               for slot, layer in enumerate(layers)]
    try:
        for batch in _length_sorted_batches(items, max_batch_size, max_batch_tokens):
            tensors = _collate([items[i] for i in batch], pad_token_id, device)
            n = len(batch)
            state.update(tensors)
            state["rows"] = torch.arange(n, device=device)
            for name in REDUCTIONS:
                state[name] = torch.zeros(n, len(layers), hidden_size, device=device)
            try:
                base_model(model)(input_ids=tensors["input_ids"], attention_mask=tensors["attention_mask"],
                                  use_cache=False)
            except _StopForward:
                pass
            index = torch.tensor(batch)
            for name in REDUCTIONS:
                out[name][index] = state[name].cpu()
            if progress:
                progress(n)
    finally:
        for handle in handles:
            handle.remove()
    return out


def _length_sorted_batches(items: Sequence[Encoded], max_size: int, max_tokens: int) -> list[list[int]]:
    order = sorted(range(len(items)), key=lambda i: len(items[i].input_ids))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = len(items[i].input_ids)  # sorted ascending: the newest is the longest
        if current and (len(current) + 1 > max_size or (len(current) + 1) * longest > max_tokens):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def _collate(batch: Sequence[Encoded], pad_token_id: int, device) -> dict[str, Tensor]:
    """Right padding: real tokens keep positions 0..len-1, the same as one at a time."""
    width = max(len(e.input_ids) for e in batch)
    input_ids = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    response = torch.zeros((len(batch), width), dtype=torch.float32)
    for row, e in enumerate(batch):
        input_ids[row, : len(e.input_ids)] = torch.tensor(e.input_ids)
        attention[row, : len(e.input_ids)] = 1
        response[row, e.response_start: e.response_end] = 1.0
    return {
        "input_ids": input_ids.to(device),
        "attention_mask": attention.to(device),
        "response_mask": response.to(device),
        "n_response": response.sum(1, keepdim=True).clamp(min=1).to(device),
        "last_prompt": torch.tensor([e.last_prompt_index for e in batch], device=device),
    }


def encode_pairs(tokenizer, pairs: Sequence[PairInput]) -> tuple[list[Encoded], list[Encoded]]:
    system_ok = supports_system(tokenizer)
    pos, neg = [], []
    for p in pairs:
        pos.append(encode_pair_side(
            tokenizer, pole_messages(tokenizer, p.pos_messages, p.pos_system, p.user, system_ok), p.pos_response))
        neg.append(encode_pair_side(
            tokenizer, pole_messages(tokenizer, p.neg_messages, p.neg_system, p.user, system_ok), p.neg_response))
    return pos, neg


def bootstrap_weights(cell_id: str, n_pairs: int, replicates: int, seed: int = 0) -> Tensor:
    """(replicates, n_pairs): row b holds how often each pair was drawn in resample b (n_pairs
    draws with replacement), divided by n_pairs, so `weights @ diffs` is each resample's mean.
    Seeded by (seed, cell_id): the same cell draws the same resamples in every run."""
    digest = hashlib.sha256(f"{seed}|{cell_id}".encode()).digest()
    generator = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)
    draws = torch.randint(n_pairs, (replicates, n_pairs), generator=generator)
    counts = torch.zeros(replicates, n_pairs).scatter_add_(1, draws, torch.ones(replicates, n_pairs))
    return counts / n_pairs


def heldout_projections(pos: Tensor, neg: Tensor) -> tuple[Tensor, Tensor] | tuple[None, None]:
    """(n, L) projections of each pair's pos and neg activations (n, L, d) on the unit mean of the
    other pairs' differences; (None, None) for a single pair."""
    n = pos.shape[0]
    if n < 2:
        return None, None
    diffs = pos - neg
    others = (diffs.sum(0, keepdim=True) - diffs) / (n - 1)          # (n, L, d)
    unit = others / others.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    return (pos * unit).sum(-1), (neg * unit).sum(-1)


def cosines_to_others(diffs: Tensor) -> tuple[Tensor, Tensor] | tuple[None, None]:
    """(n, L) mean over the other pairs j of cos(d_i, d_j), and of cos^2, for differences (n, L, d);
    (None, None) for a single pair. A zero difference has cosine 0 with every other."""
    n = diffs.shape[0]
    if n < 2:
        return None, None
    unit = diffs / diffs.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    gram = torch.einsum("nld,mld->lnm", unit, unit)                   # (L, n, n)
    self_cos = torch.diagonal(gram, dim1=1, dim2=2)                   # 1, or 0 for a zero difference
    mean = (gram.sum(-1) - self_cos) / (n - 1)
    mean_sq = ((gram ** 2).sum(-1) - self_cos ** 2) / (n - 1)
    return mean.T, mean_sq.T


def cell_vectors_and_stats(pairs: Sequence[PairInput], layers: Sequence[int],
                           pos_acts: dict[str, Tensor], neg_acts: dict[str, Tensor],
                           pos_enc: Sequence[Encoded], neg_enc: Sequence[Encoded],
                           bootstrap: int = 0, seed: int = 0) -> tuple[list[CellVector], list[PairStat]]:
    by_cell: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        by_cell.setdefault(p.cell_id, []).append(i)
    # one set of resamples per cell, shared by both reductions (they resample the same pairs)
    weights = {cell_id: bootstrap_weights(cell_id, len(idx), bootstrap, seed)
               for cell_id, idx in by_cell.items() if bootstrap and len(idx) > 1}
    vectors: list[CellVector] = []
    stats: list[PairStat] = []
    for reduction in REDUCTIONS:
        diffs = pos_acts[reduction] - neg_acts[reduction]  # (n, L, d): the sign is pos - neg
        for cell_id, idx in by_cell.items():
            index = torch.tensor(idx)
            cell_diffs = diffs[index]
            mean = cell_diffs.mean(0)  # (L, d)
            unit = mean / mean.norm(dim=-1, keepdim=True).clamp(min=1e-12)
            pos_proj = torch.einsum("nld,ld->nl", pos_acts[reduction][index], unit)
            neg_proj = torch.einsum("nld,ld->nl", neg_acts[reduction][index], unit)
            cosine = torch.nn.functional.cosine_similarity(cell_diffs, mean.unsqueeze(0), dim=-1)
            diff_norm = cell_diffs.norm(dim=-1)
            pos_held, neg_held = heldout_projections(pos_acts[reduction][index], neg_acts[reduction][index])
            others_cos, others_cos_sq = cosines_to_others(cell_diffs)
            pair_ids = tuple(pairs[i].pair_id for i in idx)
            resampled = (torch.einsum("bn,nld->lbd", weights[cell_id], cell_diffs)
                         if cell_id in weights else None)  # (L, bootstrap, d)
            for slot, layer in enumerate(layers):
                vectors.append(CellVector(cell_id, layer, reduction, pair_ids, mean[slot].clone(),
                                          None if resampled is None else resampled[slot].clone()))
                for row, i in enumerate(idx):
                    stats.append(PairStat(
                        pairs[i].pair_id, cell_id, layer, reduction,
                        float(diff_norm[row, slot]), float(pos_proj[row, slot]),
                        float(neg_proj[row, slot]), float(cosine[row, slot]),
                        pos_enc[i].response_end - pos_enc[i].response_start,
                        neg_enc[i].response_end - neg_enc[i].response_start,
                        None if pos_held is None else float(pos_held[row, slot]),
                        None if neg_held is None else float(neg_held[row, slot]),
                        None if others_cos is None else float(others_cos[row, slot]),
                        None if others_cos_sq is None else float(others_cos_sq[row, slot])))
    return vectors, stats


def extract_cells(model: nn.Module, tokenizer, pairs: Sequence[PairInput], layers: Sequence[int],
                  max_batch_size: int = 16, max_batch_tokens: int = 8192, chunk_pairs: int = 256,
                  progress: Callable[[int], None] | None = None, bootstrap: int = 0,
                  seed: int = 0) -> tuple[list[CellVector], list[PairStat]]:
    """Vectors and per-pair scalars for every cell, processed in chunks of whole cells; with
    `bootstrap` > 0 each vector of a cell with two pairs or more carries that many resampled copies."""
    vectors: list[CellVector] = []
    stats: list[PairStat] = []
    for chunk in _cell_chunks(pairs, chunk_pairs):
        pos_enc, neg_enc = encode_pairs(tokenizer, chunk)
        acts = extract_activations(model, pos_enc + neg_enc, layers, tokenizer.pad_token_id,
                                   max_batch_size, max_batch_tokens, progress)
        n = len(chunk)
        pos_acts = {k: v[:n] for k, v in acts.items()}
        neg_acts = {k: v[n:] for k, v in acts.items()}
        chunk_vectors, chunk_stats = cell_vectors_and_stats(chunk, layers, pos_acts, neg_acts, pos_enc, neg_enc,
                                                            bootstrap, seed)
        vectors += chunk_vectors
        stats += chunk_stats
    return vectors, stats


def _cell_chunks(pairs: Sequence[PairInput], chunk_pairs: int) -> list[list[PairInput]]:
    by_cell: dict[str, list[PairInput]] = {}
    for p in pairs:
        by_cell.setdefault(p.cell_id, []).append(p)
    chunks: list[list[PairInput]] = [[]]
    for cell_pairs in by_cell.values():
        if chunks[-1] and len(chunks[-1]) + len(cell_pairs) > chunk_pairs:
            chunks.append([])
        chunks[-1].extend(cell_pairs)
    return [c for c in chunks if c]
