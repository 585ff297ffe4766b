"""Read steering vectors that other tools wrote, and map their layers onto ours.

Formats (each file's own layer numbering, and the offset that makes it ours: layer = index + offset):
- persona_vectors `<trait>_{response_avg_diff,prompt_avg_diff,prompt_last_diff}.pt`: one tensor
  [layers + 1, hidden]; row r = hidden_states[r], row 0 the embedding output: offset -1.
  A `.pt` holding a dict {layer: [hidden]} is read per layer with offset 0.
- repeng GGUF control vectors: tensors `direction.<L>` with L the index into model.layers: offset 0.
- safetensors: one tensor per layer (the layer is the name's trailing number: `12`, `layer.12`,
  `layers.12`, `direction.12`, `<reduction>.layer12`), or one [layers, hidden] tensor: offset 0.
  Our own export (`provenance` metadata) is the per-layer case.

A `.pt` is read with torch.load(weights_only=True) only: a pickled object other than tensors and
plain containers is refused and never run. Every check names the file and the tensor.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from warehouse.errors import UserError

PERSONA_VECTOR_KINDS = {"response_avg_diff": "response_mean", "prompt_avg_diff": "prompt_mean",
                        "prompt_last_diff": "prompt_last"}
KNOWN_REDUCTIONS = {"response_mean", "prompt_mean", "prompt_last"}
PERSONA_VECTOR_NAME = re.compile(r"(?P<trait>.+)_(?P<kind>" + "|".join(PERSONA_VECTOR_KINDS) + ")")
STACKED_PT = "row r = hidden_states[r] (row 0 = embedding output, row L+1 = output of layer L)"
PER_INDEX = "index L = output of model.layers[L] (0-based)"


@dataclass
class RawVector:
    tensor_name: str
    source_layer: int
    reduction: str
    values: object  # 1-D torch tensor


@dataclass
class VectorFile:
    source_format: str
    default_offset: int
    convention: str
    trait: str | None
    vectors: list[RawVector]
    stacked: tuple[str, list[int]] | None = None  # (tensor name, shape) of a [layers, hidden] tensor
    model_hint: str | None = None
    metadata: dict = field(default_factory=dict)


def read_vector_file(path: Path) -> VectorFile:
    with path.open("rb") as handle:
        head = handle.read(16)
    if head[:4] == b"GGUF":
        return read_gguf(path)
    if path.suffix.lower() == ".safetensors" or looks_like_safetensors(head, path):
        return read_safetensors(path)
    return read_pt(path)


def looks_like_safetensors(head: bytes, path: Path) -> bool:
    size = int.from_bytes(head[:8], "little") if len(head) >= 9 else 0
    return 0 < size < path.stat().st_size and head[8:9] == b"{"


# ---- persona_vectors .pt ---------------------------------------------------------------

def read_pt(path: Path) -> VectorFile:
    import pickle

    import torch

    from extract.export_vectors import read_pt_provenance

    with path.open("rb") as handle:
        head = handle.read(4)
    if head != b"PK\x03\x04" and head[:1] != b"\x80":
        raise UserError(f"{path}: not a torch tensor file (neither torch's zip format nor a pickle)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UserError(f"{path}: refused: it holds pickled objects other than tensors "
                        f"({_unpickle_reason(exc)}); nothing was unpickled") from None
    except Exception as exc:  # weights_only runs no code: any failure is an unreadable file
        raise UserError(f"{path}: not a readable torch tensor file ({_first_line(exc)})") from None
    named = PERSONA_VECTOR_NAME.fullmatch(path.stem)
    trait = named["trait"] if named else None
    reduction = PERSONA_VECTOR_KINDS[named["kind"]] if named else "unspecified"
    if isinstance(obj, torch.Tensor) and obj.ndim == 2:
        vectors = [RawVector(f"{path.name}[{row}]", row, reduction, obj[row]) for row in range(obj.shape[0])]
        _check_floats(path, path.name, obj)
        metadata = {"dtype": str(obj.dtype)}
        provenance = read_pt_provenance(path) if head == b"PK\x03\x04" else None
        if provenance is not None:  # written by `psw export-vectors`
            metadata["provenance"] = provenance
            trait = trait or provenance.get("cell_id")
        return VectorFile("persona_vectors_pt", -1, STACKED_PT, trait, vectors,
                          stacked=(path.name, list(obj.shape)), metadata=metadata)
    if isinstance(obj, dict) and obj:
        vectors = [_named_vector(path, str(name), tensor, reduction) for name, tensor in obj.items()]
        return VectorFile("pt_per_layer", 0, PER_INDEX, trait, vectors)
    kind = f"a tensor of shape {list(obj.shape)}" if isinstance(obj, torch.Tensor) else type(obj).__name__
    raise UserError(f"{path}: holds {kind}; expected a [layers + 1, hidden] tensor (persona_vectors) "
                    "or a dict {layer: [hidden] tensor}")


# ---- repeng GGUF --------------------------------------------------------------------------

def read_gguf(path: Path) -> VectorFile:
    import gguf
    import numpy as np
    import torch

    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as exc:
        raise UserError(f"{path}: not a readable GGUF file ({_first_line(exc)})") from None
    fields = {name: _field_value(reader, name) for name in
              ("general.architecture", "controlvector.model_hint", "controlvector.layer_count")}
    if fields["general.architecture"] != "controlvector":
        raise UserError(f"{path}: general.architecture is {fields['general.architecture']!r}, "
                        "not 'controlvector' (a repeng or llama.cpp control vector)")
    vectors = []
    for tensor in reader.tensors:
        match = re.fullmatch(r"direction\.(\d+)", tensor.name)
        if not match:
            raise UserError(f"{path}: tensor {tensor.name}: expected direction.<layer>")
        if tensor.tensor_type not in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            raise UserError(f"{path}: tensor {tensor.name}: type {tensor.tensor_type.name}, expected F32 or F16")
        values = torch.from_numpy(np.array(tensor.data, copy=True))
        vectors.append(RawVector(tensor.name, int(match[1]), "unspecified", values))
    if not vectors:
        raise UserError(f"{path}: no direction.<layer> tensors")
    return VectorFile("repeng_gguf", 0, f"direction.L: {PER_INDEX}", None, vectors,
                      model_hint=fields["controlvector.model_hint"],
                      metadata={k: v for k, v in fields.items() if v is not None})


def _field_value(reader, name: str):
    found = reader.get_field(name)
    if found is None or not found.data:
        return None
    value = found.parts[found.data[0]]
    if found.types and found.types[0].name == "STRING":
        return bytes(value).decode("utf-8", errors="replace")
    return value.tolist()[0] if len(value) else None


# ---- safetensors ----------------------------------------------------------------------------

def read_safetensors(path: Path) -> VectorFile:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except Exception as exc:
        raise UserError(f"{path}: not a readable safetensors file ({_first_line(exc)})") from None
    if not tensors:
        raise UserError(f"{path}: no tensors")
    provenance = _provenance(path, metadata)
    if len(tensors) == 1 and next(iter(tensors.values())).ndim == 2 and provenance is None:
        name, stack = next(iter(tensors.items()))
        _check_floats(path, name, stack)
        vectors = [RawVector(f"{name}[{row}]", row, "unspecified", stack[row]) for row in range(stack.shape[0])]
        return VectorFile("safetensors_stacked", 0, "row L = output of model.layers[L] (0-based)", None,
                          vectors, stacked=(name, list(stack.shape)), metadata=metadata)
    vectors = [_named_vector(path, name, tensor, "unspecified") for name, tensor in tensors.items()]
    if provenance is not None:
        return VectorFile("psw_safetensors", 0, f"<reduction>.layer<L>: {PER_INDEX}", provenance.get("cell_id"),
                          vectors, metadata={"provenance": provenance})
    return VectorFile("safetensors_per_layer", 0, f"trailing number L of the tensor name: {PER_INDEX}", None,
                      vectors, metadata=metadata)


def _provenance(path: Path, metadata: dict) -> dict | None:
    if "provenance" not in metadata:
        return None
    try:
        provenance = json.loads(metadata["provenance"])
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: metadata provenance is not JSON ({exc.msg})") from None
    return provenance if isinstance(provenance, dict) else None


# ---- shared -----------------------------------------------------------------------------------

def _named_vector(path: Path, name: str, tensor, reduction: str) -> RawVector:
    """A per-layer tensor: its layer is the trailing number of its name, a known reduction its prefix."""
    import torch

    match = re.fullmatch(r"(.*?)(\d+)", name)
    if match is None:
        raise UserError(f"{path}: tensor {name}: no layer number at the end of its name")
    prefix = re.sub(r"[._-]*(?:layers?|direction|blocks?)?[._-]*$", "", match[1])
    if not isinstance(tensor, torch.Tensor):
        raise UserError(f"{path}: {name}: holds {type(tensor).__name__}, expected a [hidden] tensor")
    _check_floats(path, name, tensor)
    return RawVector(name, int(match[2]), prefix if prefix in KNOWN_REDUCTIONS else reduction, tensor)


def _check_floats(path: Path, name: str, tensor) -> None:
    import torch

    if not torch.is_floating_point(tensor):
        raise UserError(f"{path}: tensor {name}: dtype {str(tensor.dtype).removeprefix('torch.')}, "
                        "expected floating point")


def _unpickle_reason(exc: BaseException) -> str:
    """What the weights-only unpickler refused, without torch's advice to load it unrestricted."""
    advice = ("Weights only load failed", "Please file an issue", "Check the documentation")
    lines = [line.replace("WeightsUnpickler error:", "").strip() for line in str(exc).splitlines()
             if not line.strip().startswith(advice)]
    return next((line[:200] for line in lines if line), "not a plain tensor file")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


# ---- our layers ---------------------------------------------------------------------------------

def map_layers(path: Path, vfile: VectorFile, n_layers: int, hidden: int, offset: int,
               model: str) -> tuple[list[tuple[RawVector, int]], list[str]]:
    """[(vector, our layer)] and the rows skipped as embedding outputs (all-zero rows of a stacked
    tensor are skipped too, named in the file's metadata); refuses any shape,
    value or layer that does not fit the model."""
    import torch

    fits = f"--model {model} ({n_layers} layers, hidden {hidden})"
    if vfile.stacked is not None:
        name, shape = vfile.stacked
        if shape != [n_layers - offset, hidden]:
            raise UserError(f"{path}: tensor {name} has shape {shape}; {fits} with layer offset {offset:+d} "
                            f"needs [{n_layers - offset}, {hidden}] ({vfile.convention})")
    mapped, skipped, zero_rows, seen = [], [], [], {}
    for vector in vfile.vectors:
        name, values = vector.tensor_name, vector.values
        if list(values.shape) != [hidden]:
            raise UserError(f"{path}: tensor {name} has shape {list(values.shape)}; {fits} needs [{hidden}]")
        if not bool(torch.isfinite(values).all()):
            raise UserError(f"{path}: tensor {name}: NaN or inf entries")
        layer = vector.source_layer + offset
        if layer == -1 and vfile.stacked is not None:
            skipped.append(name)  # the embedding output: no layer of ours
            continue
        if vfile.stacked is not None and not bool(values.any()):
            zero_rows.append(name)  # a layer the file holds no direction for (e.g. our own `.pt` export)
            continue
        if not 0 <= layer < n_layers:
            raise UserError(f"{path}: tensor {name}: index {vector.source_layer} with layer offset {offset:+d} "
                            f"is layer {layer}; {fits} has layers 0..{n_layers - 1}")
        key = (vector.reduction, layer)
        if key in seen:
            raise UserError(f"{path}: tensors {seen[key]} and {name} are both layer {layer} ({vector.reduction})")
        seen[key] = name
        mapped.append((vector, layer))
    if not mapped:
        raise UserError(f"{path}: every row is the embedding output or zeros; no direction to load")
    if zero_rows:
        vfile.metadata["skipped_zero_rows"] = zero_rows
    return mapped, skipped
