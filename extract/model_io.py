"""Load a causal LM and its tokenizer; find its decoder layers; describe where it came from."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import torch
from torch import nn

from warehouse.errors import UserError

LAYER_CONVENTION = "output of model.layers[L] (0-based) = hidden_states[L+1]"


@dataclass(frozen=True)
class Provenance:
    model_id: str
    model_revision: str | None
    chat_template_hash: str | None  # sha256 of the template text; None = no template
    layer_convention: str
    dtype: str
    n_layers: int
    hidden_size: int

    def as_dict(self) -> dict:
        return asdict(self)


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16,
                "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}[dtype]
    except KeyError:
        raise UserError(f"--dtype: unknown dtype {dtype!r} (auto, fp32, bf16, fp16)") from None


def chat_template_hash(tokenizer) -> str | None:
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        return None
    if isinstance(template, dict):  # named templates: hash them all, in name order
        template = "\n".join(f"{k}\n{v}" for k, v in sorted(template.items()))
    return hashlib.sha256(template.encode()).hexdigest()


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The list of decoder blocks, whatever the architecture calls it."""
    for path in ("model.layers", "model.model.layers", "model.language_model.layers",
                 "transformer.h", "gpt_neox.layers", "model.decoder.layers", "layers"):
        obj = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList):
            return obj
    raise UserError(f"{type(model).__name__}: cannot find its decoder layers")


def base_model(model: nn.Module) -> nn.Module:
    """The decoder without the LM head, so vocabulary logits are never built."""
    getter = getattr(model, "get_decoder", None)
    decoder = getter() if callable(getter) else None
    return decoder if decoder is not None else model


def parse_layers(spec: str | None, n_layers: int) -> list[int]:
    """'all', '10,12' or None (a default spread of layers)."""
    if spec is None:
        return sorted({n_layers // 2, (2 * n_layers) // 3, n_layers - 1})
    if spec == "all":
        return list(range(n_layers))
    try:
        layers = sorted({int(part) for part in spec.split(",") if part.strip()})
    except ValueError:
        raise UserError(f"--layers: expected 'all' or comma-separated integers, got {spec!r}") from None
    bad = [layer for layer in layers if not 0 <= layer < n_layers]
    if bad or not layers:
        raise UserError(f"--layers: {bad or spec} outside 0..{n_layers - 1}")
    return layers


def provenance_for(model: nn.Module, tokenizer, model_id: str, revision: str | None) -> Provenance:
    return Provenance(
        model_id=model_id,
        model_revision=revision or getattr(model.config, "_commit_hash", None),
        chat_template_hash=chat_template_hash(tokenizer),
        layer_convention=LAYER_CONVENTION,
        dtype=str(next(model.parameters()).dtype).removeprefix("torch."),
        n_layers=len(decoder_layers(model)),
        hidden_size=int(model.config.get_text_config().hidden_size),
    )


def load_model(model_id: str, revision: str | None = None, dtype: str = "auto",
               device: str = "auto", trust_remote_code: bool = False):
    """(model, tokenizer, provenance) for a hub id or a local path. No remote code unless asked."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_id, revision=revision,
                                                  trust_remote_code=trust_remote_code)
        import transformers

        # transformers 5 calls it `dtype`; 4.x `torch_dtype`
        dtype_kw = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
        model = AutoModelForCausalLM.from_pretrained(model_id, revision=revision, trust_remote_code=trust_remote_code,
                                                     **{dtype_kw: torch_dtype})
    except (OSError, ValueError) as exc:
        raise UserError(f"--model {model_id}: cannot load ({str(exc).splitlines()[0]})") from None
    model.to(dev).eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, provenance_for(model, tokenizer, model_id, revision)
