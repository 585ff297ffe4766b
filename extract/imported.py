"""`psw ingest` of activation statistics from other tools: steering vectors (persona_vectors
`.pt`, repeng GGUF, safetensors) and persona_vectors projection tables (CSV, JSONL).

Every vector and projection is checked against the model it belongs to (`--model`: its config
only, read offline) and stored with our layer number, the file's own index and the offset between
them, its source file and sha256. A file loads whole or not at all; loading it again adds nothing.
torch, gguf and transformers are imported only when such a file is loaded.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from warehouse.append import append, transaction
from warehouse.errors import UserError
from warehouse.schema import ensure_raw_schema

IMPORT_KINDS = ("vectors", "projections")
VECTOR_SUFFIXES = (".pt", ".pth", ".gguf", ".safetensors")


@dataclass(frozen=True)
class ImportOptions:
    model: str | None = None
    revision: str | None = None
    trait: str | None = None
    layer_offset: int | None = None  # None: the format's own convention


@dataclass(frozen=True)
class ModelShape:
    model_id: str
    revision: str | None
    model_type: str | None
    n_layers: int
    hidden_size: int


# ---- detection (no torch) ---------------------------------------------------------------------

def detect_kind(path: Path) -> str | None:
    """'vectors' or 'projections' when the file is plainly one of them, else None."""
    from extract.imported_projections import is_projection_column
    from extract.imported_vectors import looks_like_safetensors

    if path.suffix.lower() == ".eval":
        return None   # an Inspect log is a zip too: ingest/inspect_log.py reads it
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
            if head[:4] in (b"GGUF", b"PK\x03\x04") or path.suffix.lower() in VECTOR_SUFFIXES \
                    or looks_like_safetensors(head, path):
                return "vectors"
            handle.seek(0)
            first = next((line for line in handle if line.strip()), b"").decode("utf-8", errors="replace").strip()
    except OSError:
        return None  # the ingest that follows names the problem
    if path.suffix.lower() == ".csv":
        header = next(csv.reader(io.StringIO(first)), [])
        return "projections" if any(is_projection_column(name) for name in header) else None
    if first.startswith("{"):
        try:
            record = json.loads(first)
        except (json.JSONDecodeError, RecursionError):
            return None
        if isinstance(record, dict) and any(is_projection_column(str(key)) for key in record):
            return "projections"
    return None


# ---- the model ----------------------------------------------------------------------------------

def model_shape(path: Path, opts: ImportOptions) -> ModelShape:
    """Layer count and hidden size from the model's config, read from disk or the local cache."""
    if not opts.model:
        raise UserError(f"{path}: pass --model ID (a local model folder, or a hub id in the Hugging Face "
                        "cache) so its layers and hidden size can be checked")
    from transformers import AutoConfig

    from extract.model_io import refuse_remote_code

    refuse_remote_code(opts.model, opts.revision)   # only the config is read here: never its code
    try:
        config = AutoConfig.from_pretrained(opts.model, revision=opts.revision, local_files_only=True,
                                            trust_remote_code=False)
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise UserError(f"--model {opts.model}: cannot read its config offline ({reason}); pass a local model "
                        f"folder, or put its config.json in the Hugging Face cache first "
                        f"(`huggingface-cli download {opts.model} config.json`)") from None
    text = config.get_text_config()
    n_layers, hidden = getattr(text, "num_hidden_layers", None), getattr(text, "hidden_size", None)
    if not isinstance(n_layers, int) or not isinstance(hidden, int):
        raise UserError(f"--model {opts.model}: its config names no num_hidden_layers and hidden_size")
    return ModelShape(opts.model, opts.revision or getattr(config, "_commit_hash", None),
                      getattr(config, "model_type", None), n_layers, hidden)


# ---- loading --------------------------------------------------------------------------------------

def ingest_import(con: duckdb.DuckDBPyConnection, path: Path, kind: str, opts: ImportOptions) -> str:
    """Check and store one file; returns the line to print."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if opts.trait is not None and not opts.trait.strip():
        raise UserError("--trait: empty name")
    shape = model_shape(path, opts)
    sha = file_sha256(path)
    load_id = md5(sha, kind, shape.model_id, shape.revision, opts.trait, opts.layer_offset)
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
    if kind == "vectors":
        table, key, rows, what = "raw.imported_vectors", "vector_id", *vector_rows(path, sha, shape, opts)
    else:
        table, key, rows, what = "raw.imported_projections", "projection_id", *projection_rows(path, sha, shape, opts)
    for row in rows:
        row.update(load_id=load_id, source_path=str(path), file_sha256=sha, loaded_at=loaded_at)
    ensure_raw_schema(con)
    with transaction(con):
        added = append(con, table, rows, key)
        append(con, "raw.loads", [{"load_id": load_id, "file_sha256": sha, "kind": kind, "source_path": str(path),
                                   "n_records": len(rows), "loaded_at": loaded_at}], "load_id")
    if not added:
        return f"{path}: already loaded ({what}); nothing added"
    return f"{path}: loaded {len(rows)} {what} ({added} new)"


def vector_rows(path: Path, sha: str, shape: ModelShape, opts: ImportOptions) -> tuple[list[dict], str]:
    from extract.imported_vectors import map_layers, read_vector_file

    vfile = read_vector_file(path)
    if vfile.model_hint and shape.model_type and vfile.model_hint != shape.model_type:
        raise UserError(f"{path}: controlvector.model_hint is {vfile.model_hint!r} but --model {shape.model_id} "
                        f"is a {shape.model_type!r} model")
    offset = vfile.default_offset if opts.layer_offset is None else opts.layer_offset
    mapped, skipped = map_layers(path, vfile, shape.n_layers, shape.hidden_size, offset, shape.model_id)
    trait = opts.trait or vfile.trait or path.stem
    provenance = {"model_type": shape.model_type, "model_hint": vfile.model_hint, "file_metadata": vfile.metadata,
                  "skipped_embedding_rows": skipped, "layer_offset_from": "format" if opts.layer_offset is None
                  else "--layer-offset", "n_layers": shape.n_layers}
    rows = []
    for vector, layer in mapped:
        values = vector.values.float()
        rows.append({
            "vector_id": md5(sha, vector.tensor_name, vector.source_layer, layer, trait, shape.model_id,
                             shape.revision),
            "source_format": vfile.source_format, "tensor_name": vector.tensor_name, "model_id": shape.model_id,
            "model_revision": shape.revision, "trait": trait, "reduction": vector.reduction, "layer": layer,
            "source_layer": vector.source_layer, "layer_offset": offset, "layer_convention": vfile.convention,
            "hidden_size": shape.hidden_size, "norm": float(values.norm()), "vector": values.tolist(),
            "provenance": json.dumps({**provenance, "source_dtype": str(vector.values.dtype).removeprefix("torch.")},
                                     sort_keys=True, default=str)})
    layers = sorted({layer for _, layer in mapped})
    return rows, (f"vectors: {vfile.source_format}, trait {trait}, layers {layers[0]}..{layers[-1]}, "
                  f"offset {offset:+d}")


def projection_rows(path: Path, sha: str, shape: ModelShape, opts: ImportOptions) -> tuple[list[dict], str]:
    from extract.imported_projections import DEFAULT_OFFSET, projection_value, read_table

    source_format, records = read_table(path)
    if not records:
        raise UserError(f"{path}: no records")
    offset = DEFAULT_OFFSET if opts.layer_offset is None else opts.layer_offset
    columns: dict[str, object] = {}
    rows = []
    for line_no, record in records:
        for name in record:
            if name not in columns:
                columns[name] = _checked_column(path, name, shape, opts, offset)
        found = [columns[name] for name in record if columns[name] is not None]
        if not found:
            raise UserError(f"{path}:{line_no}: no <trait>_<vector>_proj_layer<L> column")
        extra = {k: v for k, v in record.items() if columns[k] is None and k not in ("prompt", "answer")}
        for column in found:
            rows.append({
                "projection_id": md5(sha, line_no, column.name, column.trait, shape.model_id, shape.revision, offset),
                "source_format": source_format, "line_no": line_no, "column_name": column.name,
                "model_id": shape.model_id, "model_revision": shape.revision, "trait": column.trait,
                "reduction": column.reduction, "layer": column.source_layer + offset,
                "source_layer": column.source_layer, "layer_offset": offset,
                "prompt": _text(record.get("prompt")), "answer": _text(record.get("answer")),
                "projection": projection_value(path, line_no, column.name, record[column.name]),
                "extra": json.dumps(extra, default=str) if extra else None})
    traits = sorted({c.trait for c in columns.values() if c is not None})
    layers = sorted({row["layer"] for row in rows})
    return rows, (f"projections: {len(records)} records, trait {', '.join(traits)}, layers {layers[0]}..{layers[-1]}, "
                  f"offset {offset:+d}")


def _checked_column(path: Path, name: str, shape: ModelShape, opts: ImportOptions, offset: int):
    from extract.imported_projections import parse_column

    try:
        column = parse_column(name, opts.trait, shape.model_id)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    if column is not None and not 0 <= column.source_layer + offset < shape.n_layers:
        raise UserError(f"{path}: column {name}: layer {column.source_layer} with layer offset {offset:+d} is "
                        f"layer {column.source_layer + offset}; --model {shape.model_id} has layers "
                        f"0..{shape.n_layers - 1}")
    return column


def _text(value) -> str | None:
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 23):
            digest.update(chunk)
    return digest.hexdigest()


def md5(*parts) -> str:
    return hashlib.md5(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
