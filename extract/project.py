"""Projections of stored responses onto stored cell vectors (monitoring, no intervention).

A response's projection is its mean response-token activation at the vector's layer,
teacher-forced under its own prompt, dotted with v / |v|.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import duckdb
import torch

from extract.masks import encode_pair_side, pole_messages, supports_system
from extract.store import examples_columns, md5, messages_columns, now, persona_prompt, steering_label
from warehouse.messages import parse_messages
from warehouse.schema import ensure_raw_schema
from extract.vectors import extract_activations


def project_texts(model, tokenizer, conversations: Sequence[tuple[list[dict], str]], layer: int,
                  vector: torch.Tensor, max_batch_size: int = 16,
                  progress: Callable[[int], None] | None = None) -> list[tuple[float | None, int]]:
    """(projection, n response tokens) per (prompt messages, response); None for empty responses."""
    if not conversations:
        return []
    items = [encode_pair_side(tokenizer, messages, response) for messages, response in conversations]
    acts = extract_activations(model, items, [layer], tokenizer.pad_token_id, max_batch_size,
                               progress=progress)["response_mean"]
    unit = vector.float().cpu() / vector.float().norm().clamp(min=1e-12)
    projections = acts[:, 0] @ unit
    return [(float(p) if response.strip() else None, e.response_end - e.response_start)
            for p, e, (_, response) in zip(projections, items, conversations)]


def responses_to_project(con: duckdb.DuckDBPyConnection, tokenizer, vector_row: dict, all_cells: bool,
                         cell_id: str | None = None) -> list[tuple[str, str, list[dict], str]]:
    """(kind, response id, prompt messages, response) for the examples of the vector's cell
    (or of its whole measurement; every measurement when it has none) and for the vector's
    steering generations. An imported vector has no cell: `cell_id` names one, else every
    example is projected."""
    system_ok = supports_system(tokenizer)
    rows = con.execute(
        f"""
        select pair_id, template_text, pos_persona, neg_persona, scenario_text, pos_response, neg_response,
               {messages_columns(examples_columns(con))}
        from main.examples
        where not coalesce(is_error, false)
          and case when $all then ($measurement is null or measurement_id = $measurement)
                   when $cell is not null then cell_id = $cell
                   else true end
        order by pair_id
        """,
        {"all": all_cells, "measurement": vector_row["measurement_id"], "cell": vector_row["cell_id"] or cell_id},
    ).fetchall()
    out = []
    for pair_id, template, pos, neg, scenario, pos_response, neg_response, pos_sent, neg_sent in rows:
        for kind, persona, response, sent in (("prompted_pos", pos, pos_response, pos_sent),
                                              ("prompted_neg", neg, neg_response, neg_sent)):
            if response:
                recorded = parse_messages(sent, f"examples {pair_id} {kind[-3:]}_messages")
                messages = pole_messages(tokenizer, recorded, persona_prompt(template, persona), scenario, system_ok)
                out.append((kind, pair_id, messages, response))
    generations = con.execute(
        "select generation_id, coeff, scenario_text, response_text from raw.steering_generations "
        "where vector_id = ? order by generation_id", [vector_row["vector_id"]]).fetchall()
    for generation_id, coeff, scenario, text in generations:
        kind = "baseline" if coeff == 0 else "steered"
        out.append((kind, generation_id, [{"role": "user", "content": scenario}], text))
    return out


def project_vector(con: duckdb.DuckDBPyConnection, model, tokenizer, vector_row: dict, vector: torch.Tensor,
                   all_cells: bool = False, max_batch_size: int = 16, progress=None,
                   cell_id: str | None = None) -> int:
    """Project and store; returns the number of new rows. `progress` (an extract.progress.Progress)
    grows by the responses to project and advances as they are done."""
    ensure_raw_schema(con)
    todo = responses_to_project(con, tokenizer, vector_row, all_cells, cell_id)
    done = {row[0] for row in con.execute(
        "select projection_id from raw.activation_projections where vector_id = ?",
        [vector_row["vector_id"]]).fetchall()}
    todo = [t for t in todo if md5(vector_row["vector_id"], t[0], t[1]) not in done]
    if progress:
        progress.add_total(len(todo))
    rows = []
    for start in range(0, len(todo), 256):
        chunk = todo[start: start + 256]
        results = project_texts(model, tokenizer, [(m, r) for _, _, m, r in chunk], vector_row["layer"],
                                vector, max_batch_size, progress.update if progress else None)
        created = now()
        rows += [(md5(vector_row["vector_id"], kind, rid), vector_row["vector_id"], kind, rid, proj, n, created)
                 for (kind, rid, _, _), (proj, n) in zip(chunk, results) if proj is not None]
    if rows:
        con.executemany("insert into raw.activation_projections values (?, ?, ?, ?, ?, ?, ?) "
                        "on conflict do nothing", rows)
    return len(rows)
