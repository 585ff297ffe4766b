"""Cell vectors out to the tools people steer with (`psw export-vectors`).

- `gguf`: a control vector as llama.cpp (`--control-vector`) and repeng read it: architecture
  `controlvector`, keys `controlvector.model_hint` (the model type) and `controlvector.layer_count`,
  one F32 tensor `direction.<L>` per layer, L indexing model.layers (ours). The provenance is the
  string key `psw.provenance`.
- `safetensors`: one tensor `<reduction>.layer<L>` per layer, the provenance as metadata
  `provenance` (the layout `psw extract vectors` writes beside the warehouse).
- `pt`: as persona_vectors writes `<trait>_response_avg_diff.pt`: one tensor [layers + 1, hidden],
  row r = hidden_states[r], so our layer L is row L + 1; row 0 (the embedding output) and the rows
  of layers not exported are zeros. `torch.save` has no metadata, so the provenance is a JSON
  entry `<archive>/extra/psw_provenance.json` inside the file's zip, which torch.load ignores.

Each file is written beside its destination and moved into place whole; a provenance holding a
secret is refused before anything is written.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from hf.secret_scan import check_texts
from warehouse.errors import UserError

FORMATS = ("gguf", "safetensors", "pt")
SUFFIXES = {".gguf": "gguf", ".safetensors": "safetensors", ".pt": "pt", ".pth": "pt"}
PT_PROVENANCE = "extra/psw_provenance.json"
CONVENTIONS = {
    "gguf": "direction.L = output of model.layers[L] (0-based)",
    "safetensors": "<reduction>.layerL = output of model.layers[L] (0-based)",
    "pt": "row r = hidden_states[r]: row 0 the embedding output (zeros), row L+1 = output of model.layers[L]",
}


@dataclass
class VectorSet:
    """The vectors of one cell and one extraction run, by layer."""

    cell_id: str
    model_id: str
    model_revision: str | None
    reduction: str
    n_layers: int | None
    vectors: dict[int, np.ndarray]
    vector_ids: dict[int, str]
    provenance: dict  # the extraction's, as stored with the vectors


def format_for(fmt: str | None, out: Path) -> str:
    if fmt:
        return fmt
    found = SUFFIXES.get(out.suffix.lower())
    if found is None:
        raise UserError(f"--out {out}: pass --format {'|'.join(FORMATS)} (the name ends in none of "
                        f"{', '.join(SUFFIXES)})")
    return found


def select_vectors(con: duckdb.DuckDBPyConnection, cell_id: str | None, layer: int | None,
                   reduction: str = "response_mean") -> VectorSet:
    """The newest extraction run holding the cell (at `layer`, when given): its vectors, by layer."""
    try:
        cells = [r[0] for r in con.execute(
            "select distinct cell_id from raw.activation_vectors where reduction = ? order by 1",
            [reduction]).fetchall()]
    except duckdb.CatalogException:
        cells = []
    if not cells:
        raise UserError("export-vectors: no stored cell vectors; run `psw extract vectors --model MODEL` first")
    if cell_id is None:
        if len(cells) > 1:
            shown = ", ".join(cells[:5]) + (", ..." if len(cells) > 5 else "")
            raise UserError(f"export-vectors: {len(cells)} cells have vectors ({shown}); pass --cell ID")
        cell_id = cells[0]
    elif cell_id not in cells:
        raise UserError(f"--cell {cell_id}: no stored {reduction} vector for this cell; run "
                        f"`psw extract vectors --model MODEL --cell {cell_id}` first")
    rows = con.execute(
        """
        with newest_run as (
            select run_id from raw.activation_vectors
            where cell_id = $cell and reduction = $reduction and ($layer is null or layer = $layer)
            order by created_at desc, run_id limit 1
        )
        select v.vector_id, v.layer, v.vector, v.provenance, r.model_id, r.model_revision
        from raw.activation_vectors as v
        join raw.activation_runs as r using (run_id)
        where v.run_id = (select run_id from newest_run) and v.cell_id = $cell and v.reduction = $reduction
          and ($layer is null or v.layer = $layer)
        order by v.layer
        """, {"cell": cell_id, "reduction": reduction, "layer": layer}).fetchall()
    if not rows:
        layers = [r[0] for r in con.execute(
            "select distinct layer from raw.activation_vectors where cell_id = ? and reduction = ? order by 1",
            [cell_id, reduction]).fetchall()]
        raise UserError(f"--layer {layer}: no stored vector for cell {cell_id} at this layer; stored layers: "
                        f"{', '.join(map(str, layers))}")
    provenance = json.loads(rows[0][3])
    return VectorSet(cell_id, rows[0][4], rows[0][5], reduction, provenance.get("n_layers"),
                     {r[1]: np.asarray(r[2], dtype=np.float32) for r in rows}, {r[1]: r[0] for r in rows},
                     provenance)


def export_provenance(vset: VectorSet, fmt: str) -> dict:
    return {**vset.provenance, "exported_by": "psw export-vectors", "format": fmt,
            "cell_id": vset.cell_id, "reduction": vset.reduction, "layers": sorted(vset.vectors),
            "vector_ids": {str(k): v for k, v in sorted(vset.vector_ids.items())},
            "file_layer_convention": CONVENTIONS[fmt]}


def write_vectors(out: Path, fmt: str, vset: VectorSet, model_hint: str | None) -> dict:
    """Write the file whole (or nothing); returns the provenance written into it."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    if out.is_dir():
        raise UserError(f"--out {out}: is a folder; name the file to write")
    if fmt == "gguf" and not model_hint:
        raise UserError(f"export-vectors: the model type of {vset.model_id} (controlvector.model_hint) is unknown: "
                        "its config is not readable offline; pass --model-hint TYPE (e.g. qwen2, llama)")
    if fmt == "pt" and not vset.n_layers:
        raise UserError(f"export-vectors: the vectors of cell {vset.cell_id} do not record the model's layer count; "
                        "re-run `psw extract vectors` or choose --format gguf|safetensors")
    provenance = export_provenance(vset, fmt)
    if model_hint:
        provenance["model_hint"] = model_hint
    text = json.dumps(provenance, sort_keys=True, default=str)
    check_texts({f"export-vectors: the provenance of cell {vset.cell_id}": text}, "nothing written")
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        {"gguf": _write_gguf, "safetensors": _write_safetensors, "pt": _write_pt}[fmt](tmp, vset, text, model_hint)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return provenance


def _write_gguf(path: Path, vset: VectorSet, provenance: str, model_hint: str | None) -> None:
    import gguf

    writer = gguf.GGUFWriter(str(path), "controlvector")
    writer.add_string("controlvector.model_hint", model_hint)
    writer.add_uint32("controlvector.layer_count", len(vset.vectors))
    writer.add_string("psw.provenance", provenance)
    for layer, vector in sorted(vset.vectors.items()):
        writer.add_tensor(f"direction.{layer}", vector)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _write_safetensors(path: Path, vset: VectorSet, provenance: str, _hint) -> None:
    import torch
    from safetensors.torch import save_file

    tensors = {f"{vset.reduction}.layer{layer}": torch.from_numpy(vector.copy())
               for layer, vector in sorted(vset.vectors.items())}
    save_file(tensors, str(path), metadata={"provenance": provenance})


def _write_pt(path: Path, vset: VectorSet, provenance: str, _hint) -> None:
    import torch

    hidden = len(next(iter(vset.vectors.values())))
    stack = torch.zeros(vset.n_layers + 1, hidden, dtype=torch.float32)
    for layer, vector in vset.vectors.items():
        stack[layer + 1] = torch.from_numpy(vector.copy())
    torch.save(stack, path)
    with zipfile.ZipFile(path, "a") as archive:
        root = archive.namelist()[0].split("/")[0]
        archive.writestr(f"{root}/{PT_PROVENANCE}", provenance)


def read_pt_provenance(path: Path) -> dict | None:
    """The provenance `write_vectors` put into a `.pt` file's zip, or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("/" + PT_PROVENANCE)), None)
            return json.loads(archive.read(name)) if name else None
    except (zipfile.BadZipFile, OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def model_type(model_id: str, revision: str | None) -> str | None:
    """The model's type (controlvector.model_hint) from its config, read offline; None when unreadable."""
    try:
        from transformers import AutoConfig

        return getattr(AutoConfig.from_pretrained(model_id, revision=revision, local_files_only=True),
                       "model_type", None)
    except Exception:  # an unreadable config only means --model-hint must be given
        return None
