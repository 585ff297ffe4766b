"""Files in the formats other tools write, built in the test for the tiny model (3 layers,
hidden 64): persona_vectors `.pt`, a repeng GGUF control vector, safetensors in both layouts,
a persona_vectors projection CSV. Each writes the same directions, so copies can be compared."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

N_LAYERS, HIDDEN = 3, 64


def persona_stack(seed: int = 7) -> torch.Tensor:
    """A persona_vectors vector file's tensor: [layers + 1, hidden], row L+1 = our layer L."""
    return torch.randn(N_LAYERS + 1, HIDDEN, generator=torch.Generator().manual_seed(seed))


def write_persona_pt(folder: Path, trait: str, stack: torch.Tensor, kind: str = "response_avg_diff") -> Path:
    path = folder / f"{trait}_{kind}.pt"
    torch.save(stack, path)  # what persona_vectors' generate_vec.py does
    return path


def write_repeng_gguf(path: Path, directions: dict[int, np.ndarray], model_hint: str = "qwen2") -> Path:
    """As repeng's ControlVector.export_gguf writes it: direction.<L>, L indexing model.layers."""
    import gguf

    writer = gguf.GGUFWriter(str(path), "controlvector")
    writer.add_string("controlvector.model_hint", model_hint)
    writer.add_uint32("controlvector.layer_count", len(directions))
    for layer, direction in directions.items():
        writer.add_tensor(f"direction.{layer}", direction)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_per_layer_safetensors(path: Path, directions: dict[int, torch.Tensor], name: str = "layer.{}") -> Path:
    save_file({name.format(layer): d.contiguous() for layer, d in directions.items()}, str(path))
    return path


def write_stacked_safetensors(path: Path, stack: torch.Tensor) -> Path:
    save_file({"steering_vectors": stack.contiguous()}, str(path))
    return path


def our_layers(stack: torch.Tensor) -> dict[int, torch.Tensor]:
    """Our layer L -> the persona_vectors row L+1."""
    return {layer: stack[layer + 1].clone() for layer in range(N_LAYERS)}


def write_projection_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
