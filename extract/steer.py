"""Steering sweeps: generate at each coefficient with a stored cell vector, store the
text, its length and its (unsteered, teacher-forced) projection onto the vector."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import torch
from extract.local_gen import generate_texts
from extract.masks import render_prompt
from extract.model_io import base_model, decoder_layers
from extract.project import project_texts
from extract.steering import ActivationSteerer
from extract.store import md5, now, steering_label
from warehouse.schema import ensure_raw_schema
from warehouse.errors import UserError


@dataclass(frozen=True)
class Scenario:
    scenario_id: str | None
    text: str


def read_scenarios(path: Path) -> list[Scenario]:
    """JSONL {id, prompt|question|text} or plain text, one scenario per line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"--scenarios {path}: {exc.strerror}") from None
    out = []
    for line_no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{line_no}: not JSON ({exc.msg})") from None
            text = record.get("prompt") or record.get("question") or record.get("text")
            if not isinstance(text, str) or not text.strip():
                raise UserError(f"{path}:{line_no}: no prompt, question or text")
            out.append(Scenario(str(record["id"]) if "id" in record else None, text))
        else:
            out.append(Scenario(None, line.strip()))
    if not out:
        raise UserError(f"--scenarios {path}: no scenarios")
    return out


def cell_scenarios(con: duckdb.DuckDBPyConnection, cell_id: str) -> list[Scenario]:
    rows = con.execute(
        "select distinct scenario_id, scenario_text from main.examples where cell_id = ? "
        "order by scenario_id, scenario_text", [cell_id]).fetchall()
    if not rows:
        raise UserError(f"--cell {cell_id}: no scenarios in `examples`; pass --scenarios FILE")
    return [Scenario(sid, text) for sid, text in rows]


def prompt_residual_norms(model, tokenizer, prompts: Sequence[str], layer: int, batch_size: int = 8) -> list[float]:
    """Per rendered prompt: the mean over its tokens of |h|, h the (unsteered) output of model.layers[layer].
    What a coefficient is measured against to compare sweeps across models and layers (coef_rel_norm)."""
    device = next(model.parameters()).device
    captured: list[torch.Tensor] = []

    def hook(module, inputs, output):
        hidden = output[0] if isinstance(output, tuple) else output
        captured.append(hidden.detach().float().norm(dim=-1))

    norms: list[float] = []
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    handle = decoder_layers(model)[layer].register_forward_hook(hook)
    try:
        for start in range(0, len(prompts), batch_size):
            inputs = tokenizer(list(prompts[start: start + batch_size]), return_tensors="pt", padding=True,
                               add_special_tokens=False).to(device)
            captured.clear()
            with torch.inference_mode():
                base_model(model)(**inputs)
            mask = inputs["attention_mask"].float()
            norms += ((captured[0] * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)).tolist()
    finally:
        handle.remove()
        tokenizer.padding_side = side
    return norms


def sweep(model, tokenizer, vector: torch.Tensor, layer: int, coeffs: Sequence[float], positions: str,
          scenarios: Sequence[Scenario], max_new_tokens: int, temperature: float = 0.0, seed: int = 0,
          batch_size: int = 8, progress: Callable[[int], None] | None = None) -> list[dict]:
    """One generation per coefficient x scenario: coeff, scenario, text, n_tokens, projection.
    `progress(k)` is called as each coefficient's k generations are done."""
    conversations = [[{"role": "user", "content": s.text}] for s in scenarios]
    prompts = [render_prompt(tokenizer, c) for c in conversations]
    residual_norms = prompt_residual_norms(model, tokenizer, prompts, layer, batch_size)
    vector_norm = float(vector.float().norm())
    out = []
    for coeff in coeffs:
        with ActivationSteerer(model, vector, coeff=coeff, layer=layer, positions=positions):
            texts = generate_texts(model, tokenizer, prompts, max_new_tokens, temperature, batch_size, seed)
        projections = project_texts(model, tokenizer, [(c, t) for c, (t, _) in zip(conversations, texts)],
                                    layer, vector)
        for scenario, (text, n_tokens), (projection, _), norm in zip(scenarios, texts, projections, residual_norms):
            out.append({"coeff": float(coeff), "scenario": scenario, "text": text, "n_tokens": n_tokens,
                        "projection": projection, "vector_norm": vector_norm, "residual_norm": norm})
        if progress:
            progress(len(scenarios))
    return out


GENERATION_COLUMNS = (
    "generation_id", "vector_id", "cell_id", "layer", "positions", "coeff", "scenario_id", "scenario_text",
    "response_text", "n_tokens", "projection", "max_new_tokens", "temperature", "seed", "model_id",
    "model_revision", "created_at", "vector_norm", "residual_norm", "steering_backend")


def store_sweep(con: duckdb.DuckDBPyConnection, vector_row: dict, positions: str, results: list[dict],
                max_new_tokens: int, temperature: float, seed: int, model_id: str,
                model_revision: str | None, backend: str | None = None) -> list[str]:
    """Insert the generations; returns their ids (new or already stored). `backend` is the server a
    remote sweep ran on (None: this process's model)."""
    ensure_raw_schema(con)
    created = now()
    rows = []
    for r in results:
        scenario = r["scenario"]
        remote = (backend,) if backend else ()  # local sweeps keep the ids they had before remote ones
        generation_id = md5(vector_row["vector_id"], positions, r["coeff"], scenario.scenario_id, scenario.text,
                            max_new_tokens, temperature, seed, model_id, model_revision, *remote)
        rows.append((generation_id, vector_row["vector_id"], steering_label(vector_row), vector_row["layer"],
                     positions, r["coeff"], scenario.scenario_id, scenario.text, r["text"], r["n_tokens"],
                     r["projection"], max_new_tokens, temperature, seed, model_id,
                     model_revision, created, r.get("vector_norm"), r.get("residual_norm"), backend))
    con.executemany(f"insert into raw.steering_generations ({', '.join(GENERATION_COLUMNS)}) values "
                    f"({', '.join('?' * len(GENERATION_COLUMNS))}) on conflict do nothing", rows)
    return [row[0] for row in rows]


def parse_coeffs(spec: str) -> list[float]:
    try:
        coeffs = [float(part) for part in spec.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"--coeffs: expected comma-separated numbers, got {spec!r}") from None
    if not coeffs:
        raise UserError("--coeffs: no coefficients")
    return coeffs
