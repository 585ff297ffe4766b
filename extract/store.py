"""The raw tables `psw extract` writes, the safetensors files beside the warehouse,
and the reads of the pairs it works on.

Append-only and content-addressed like the rest of `raw` (see warehouse/schema.py):
each row's id is an md5 over what determines it, so re-running adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from extract.model_io import Provenance
from hf.secret_scan import check_texts
from extract.vectors import CellVector, PairInput, PairStat
from warehouse.errors import UserError
from warehouse.messages import parse_messages
from warehouse.schema import ensure_raw_schema


def md5(*parts) -> str:
    return hashlib.md5(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def vectors_dir(db_file: Path) -> Path:
    return db_file.parent / "vectors"


# ---- reading the pairs ------------------------------------------------------------

def load_pairs(con: duckdb.DuckDBPyConnection, measurement_id: str | None = None,
               strict_only: bool = False, cell_id: str | None = None) -> list[PairInput]:
    """Judged, successful pairs from the `examples` mart with the messages each pole was generated
    from (the persona prompts filled in, for a rebuild where none were recorded)."""
    columns = examples_columns(con)
    if not columns:
        raise UserError("examples: no `examples` mart yet; run `psw ingest ...` then `psw build`")
    strict_column = "is_strict_pass" if "is_strict_pass" in columns else "strict_pass"
    rows = con.execute(
        f"""
        select pair_id, cell_id, template_text, pos_persona, neg_persona, scenario_text,
               pos_response, neg_response, {messages_columns(columns)}
        from main.examples
        where not coalesce(is_error, false)
          and length(trim(coalesce(pos_response, ''))) > 0 and length(trim(coalesce(neg_response, ''))) > 0
          and ($measurement is null or measurement_id = $measurement)
          and ($cell is null or cell_id = $cell)
          and (not $strict or coalesce({strict_column}, false))
        order by cell_id, pair_id
        """,
        {"measurement": measurement_id, "cell": cell_id, "strict": strict_only},
    ).fetchall()
    return [
        PairInput(pair_id, cell, persona_prompt(template, pos), persona_prompt(template, neg),
                  scenario, pos_resp, neg_resp,
                  parse_messages(pos_messages, f"examples {pair_id} pos_messages"),
                  parse_messages(neg_messages, f"examples {pair_id} neg_messages"))
        for pair_id, cell, template, pos, neg, scenario, pos_resp, neg_resp, pos_messages, neg_messages in rows
    ]


def examples_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'main' and table_name = 'examples'").fetchall()}


def messages_columns(columns: set[str]) -> str:
    """The recorded messages as JSON text, or nulls from a mart built before it carried them."""
    return ", ".join(f"{name}::varchar" if name in columns else f"null as {name}"
                     for name in ("pos_messages", "neg_messages"))


def prompt_provenance(pairs: list[PairInput]) -> dict:
    """How a run's prompts were obtained, for its provenance: pairs teacher-forced under the
    messages that were sent vs rebuilt from template and persona (no record of what was sent),
    and a digest of the recorded messages (the same pairs under other prompts are another run)."""
    rebuilt = sum(p.prompt_reconstructed for p in pairs)
    recorded = sorted(((p.pair_id, p.pos_messages, p.neg_messages) for p in pairs if not p.prompt_reconstructed),
                      key=lambda item: item[0])
    return {"n_recorded_prompts": len(pairs) - rebuilt, "n_reconstructed_prompts": rebuilt,
            "recorded_messages_md5": md5(recorded)}


def persona_prompt(template: str | None, persona: str | None) -> str:
    if not template:
        return persona or ""
    return template.replace("{persona}", persona or "")


# ---- vectors ------------------------------------------------------------------------

def run_id_for(prov: Provenance, measurement_id: str | None, layers, strict_only: bool,
               pair_ids, prompts: dict | None = None, bootstrap: dict | None = None) -> str:
    """A run is what was extracted from what; runs before a setting existed keep their ids."""
    parts = [prov.as_dict(), measurement_id, list(layers), strict_only, sorted(pair_ids)]
    extras = [part for part in (prompts, bootstrap) if part]
    return md5(*parts, *extras)


def save_cell_file(path: Path, vectors: list[CellVector], provenance: dict) -> None:
    """One safetensors file per cell: tensors '<reduction>.layer<L>', provenance as metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"{v.reduction}.layer{v.layer}": v.vector.contiguous() for v in vectors}
    save_file(tensors, str(path), metadata={"provenance": json.dumps(provenance, sort_keys=True)})


def load_vector(path: str | Path, layer: int, reduction: str = "response_mean") -> tuple[torch.Tensor, dict]:
    """(vector, provenance) as saved by save_cell_file."""
    with safe_open(str(path), framework="pt") as handle:
        provenance = json.loads(handle.metadata()["provenance"])
        return handle.get_tensor(f"{reduction}.layer{layer}"), provenance


def write_extraction(con: duckdb.DuckDBPyConnection, db_file: Path, prov: Provenance,
                     measurement_id: str | None, layers, strict_only: bool, params: dict,
                     vectors: list[CellVector], stats: list[PairStat]) -> tuple[str, int]:
    """Store a run: its vectors (table + files) and per-pair scalars. Returns (run_id, new vectors)."""
    ensure_raw_schema(con)
    pair_ids = {s.pair_id for s in stats}
    run_id = run_id_for(prov, measurement_id, layers, strict_only, pair_ids, params.get("prompts"),
                        params.get("bootstrap"))
    created = now()
    by_cell: dict[str, list[CellVector]] = {}
    for v in vectors:
        by_cell.setdefault(v.cell_id, []).append(v)
    files = {}
    for cell_id, cell_vectors in by_cell.items():
        path = vectors_dir(db_file) / _slug(prov.model_id) / f"{_slug(cell_id)}__{run_id[:12]}.safetensors"
        files[cell_id] = (path, {**prov.as_dict(), "cell_id": cell_id, "run_id": run_id,
                                 "measurement_id": measurement_id, "strict_only": strict_only,
                                 "pair_ids": list(cell_vectors[0].pair_ids),
                                 "token_reductions": {"response_mean": "mean over response tokens",
                                                      "prompt_last": "last prompt token"},
                                 "vector": "mean over pairs of (pos - neg)", **params})
    # the one scanner every psw output passes, over every file's provenance before any is written
    # (named by cell: the path itself is scanned too, since it holds the model id)
    check_texts({f"the vector file of cell {cell_id}": f"{path}\n{json.dumps(provenance, sort_keys=True)}"
                 for cell_id, (path, provenance) in files.items()}, "nothing written")
    vector_rows, replicate_rows, paths = [], [], {}
    for cell_id, cell_vectors in by_cell.items():
        path, provenance = files[cell_id]
        save_cell_file(path, cell_vectors, provenance)
        for v in cell_vectors:
            vector_id = md5(run_id, cell_id, v.layer, v.reduction)
            paths[(cell_id, v.layer, v.reduction)] = vector_id
            vector_rows.append((vector_id, run_id, cell_id, v.layer, v.reduction, len(v.pair_ids), v.norm,
                                v.vector.tolist(), str(path), json.dumps(provenance), created))
            if v.replicates is not None:
                replicate_rows.append((vector_id, v.replicates))
    stat_rows = [
        (md5(paths[(s.cell_id, s.layer, s.reduction)], s.pair_id), paths[(s.cell_id, s.layer, s.reduction)],
         run_id, s.pair_id, s.cell_id, s.layer, s.reduction, s.diff_norm, s.pos_projection,
         s.neg_projection, s.cosine, s.n_pos_tokens, s.n_neg_tokens, created,
         s.pos_heldout_projection, s.neg_heldout_projection, s.cosine_to_others_mean, s.cosine_sq_to_others_mean)
        for s in stats
    ]
    con.execute("begin")
    try:
        con.execute(
            "insert into raw.activation_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing",
            (run_id, measurement_id, prov.model_id, prov.model_revision, prov.chat_template_hash,
             prov.layer_convention, prov.dtype, list(layers), strict_only, len(pair_ids),
             json.dumps(params), created))
        before = con.execute("select count(*) from raw.activation_vectors").fetchone()[0]
        _insert_many(con, "raw.activation_vectors", vector_rows)
        _insert_many(con, "raw.activation_pair_stats", stat_rows)
        _insert_replicates(con, replicate_rows, created)
        added = con.execute("select count(*) from raw.activation_vectors").fetchone()[0] - before
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return run_id, added


def _insert_many(con, table: str, rows: list[tuple]) -> None:
    if not rows:
        return
    marks = ", ".join("?" * len(rows[0]))
    con.executemany(f"insert into {table} values ({marks}) on conflict do nothing", rows)


def _insert_replicates(con, replicates: list[tuple[str, torch.Tensor]], created) -> None:
    """(vector_id, (B, d) tensor) pairs, one row per replicate, through Arrow: a million floats
    as Python lists through executemany take seconds, as one Arrow column a fraction of one."""
    if not replicates:
        return
    import numpy as np
    import pyarrow as pa

    flat = np.concatenate([r.numpy().astype(np.float32).reshape(-1) for _, r in replicates])
    sizes = [(vector_id, r.shape[0], r.shape[1]) for vector_id, r in replicates]
    offsets = np.concatenate([[0], np.cumsum([d for _, b, d in sizes for _ in range(b)])]).astype(np.int64)
    table = pa.table({
        "vector_id": pa.array([vector_id for vector_id, b, _ in sizes for _ in range(b)]),
        "replicate": pa.array(np.concatenate([np.arange(b, dtype=np.int32) for _, b, _ in sizes])),
        "vector": pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(flat)),
        "created_at": pa.array([created] * len(offsets[:-1]), pa.timestamp("us")),
    })
    con.register("replicates_in", table)
    try:
        con.execute("insert into raw.activation_vector_replicates select * from replicates_in on conflict do nothing")
    finally:
        con.unregister("replicates_in")


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.")
    return (slug[:80] or "x") + ("" if slug == text else "-" + hashlib.md5(text.encode()).hexdigest()[:6])


def stored_vectors(con: duckdb.DuckDBPyConnection, where: str, params: dict, order: str,
                   limit: int | None = None) -> list[dict]:
    """Stored cell vectors with their run's provenance, one dict per vector ([] before any
    `psw extract vectors` has created the tables)."""
    try:
        cursor = con.execute(
            f"""
            select v.vector_id, v.cell_id, v.layer, v.reduction, v.safetensors_path, v.vector,
                   r.model_id, r.model_revision, r.chat_template_hash, r.measurement_id
            from raw.activation_vectors as v
            join raw.activation_runs as r using (run_id)
            where {where}
            order by {order}
            {f"limit {int(limit)}" if limit else ""}
            """, params)
    except duckdb.CatalogException:
        return []
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def find_vector(con: duckdb.DuckDBPyConnection, cell_id: str, layer: int, reduction: str = "response_mean",
                vector_id: str | None = None) -> dict:
    """The newest stored vector for (cell, layer), or the one named by vector_id."""
    rows = stored_vectors(
        con, "($vid is not null and v.vector_id = $vid) or ($vid is null and v.cell_id = $cell "
             "and v.layer = $layer and v.reduction = $reduction)",
        {"vid": vector_id, "cell": cell_id, "layer": layer, "reduction": reduction},
        order="v.created_at desc", limit=1)
    if not rows:
        raise UserError(_no_vector(con, cell_id, layer, reduction, vector_id))
    return rows[0]


def _no_vector(con: duckdb.DuckDBPyConnection, cell_id: str, layer: int, reduction: str,
               vector_id: str | None) -> str:
    """Why find_vector found nothing, and which layers are there to use instead."""
    if vector_id:
        return f"--vector-id {vector_id}: no stored vector with this id"
    try:
        layers = [r[0] for r in con.execute(
            "select distinct layer from raw.activation_vectors where cell_id = ? and reduction = ? order by layer",
            [cell_id, reduction]).fetchall()]
    except duckdb.CatalogException:
        layers = []
    if not layers:
        return (f"--cell {cell_id}: no stored vector for this cell; run `psw extract vectors --model MODEL "
                f"--cell {cell_id}` first")
    return (f"--layer {layer}: no stored vector for cell {cell_id} at this layer; stored layers: "
            f"{', '.join(map(str, layers))} (or run `psw extract vectors --model MODEL --cell {cell_id} "
            f"--layers {layer}`)")


def vectors_to_project(con: duckdb.DuckDBPyConnection, cell_id: str | None, layer: int | None) -> list[dict]:
    """The response-mean vectors of one cell and/or layer (all when None)."""
    return stored_vectors(
        con, "v.reduction = 'response_mean' and ($cell is null or v.cell_id = $cell) "
             "and ($layer is null or v.layer = $layer)",
        {"cell": cell_id, "layer": layer}, order="r.model_id, r.model_revision, v.cell_id, v.layer")



# ---- imported vectors (`psw ingest --kind vectors`) ------------------------------------------------

def imported_vectors(con: duckdb.DuckDBPyConnection, trait: str, layer: int | None = None) -> list[dict]:
    """The imported vectors of a trait, one per model and layer: its response_mean vector when
    there is one, else the newest. Shaped like `stored_vectors` rows (cell_id None)."""
    try:
        cursor = con.execute(
            """
            select vector_id, null::varchar as cell_id, trait, layer, reduction, null::varchar as safetensors_path,
                   vector, model_id, model_revision, null::varchar as chat_template_hash,
                   null::varchar as measurement_id, source_path, source_format
            from raw.imported_vectors
            where trait = $trait and ($layer is null or layer = $layer)
            qualify row_number() over (
                partition by model_id, coalesce(model_revision, ''), layer
                order by reduction = 'response_mean' desc, loaded_at desc, vector_id) = 1
            order by model_id, layer
            """, {"trait": trait, "layer": layer})
    except duckdb.CatalogException:
        return []
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def steering_label(vector_row: dict) -> str:
    """What a sweep's rows name as their cell: the cell, or `trait:<name>` for an imported vector."""
    return vector_row["cell_id"] or f"trait:{vector_row['trait']}"
