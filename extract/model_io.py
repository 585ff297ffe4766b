"""Load a causal LM and its tokenizer; find its decoder layers; describe where it came from."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

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


HUB_PROBE_SECONDS = 5.0


def _looks_like_path(model_id: str) -> bool:
    return model_id.startswith(("/", ".", "~")) or model_id.count("/") > 1 or Path(model_id).expanduser().exists()


def _hub_reachable(endpoint: str, timeout: float = HUB_PROBE_SECONDS) -> bool:
    """Can a TCP connection to the hub be opened within `timeout` (name lookup included)?"""
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((url.hostname or "", port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)  # bounds a name lookup that hangs, too
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def hub_source(model_id: str, revision: str | None) -> dict:
    """from_pretrained options: local files only when the model is a folder or already cached.

    A hub id that must be downloaded while the hub cannot be reached fails here at once with
    what to do, instead of after a minute of retries inside huggingface_hub.
    """
    from huggingface_hub import constants, try_to_load_from_cache

    if _looks_like_path(model_id):
        if not Path(model_id).expanduser().is_dir():
            raise UserError(f"--model {model_id}: no such folder (give a model folder or a hub id like org/name)")
        return {}
    cache = constants.HF_HUB_CACHE
    try:
        cached = try_to_load_from_cache(model_id, "config.json", cache_dir=cache, revision=revision)
    except ValueError:  # not a valid repo id
        raise UserError(f"--model {model_id}: neither a model folder nor a hub id like org/name") from None
    if isinstance(cached, str):
        return {"local_files_only": True, "cache_dir": cache}
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") or constants.HF_HUB_OFFLINE
    where = "HF_HUB_OFFLINE is set" if offline else None
    endpoint = os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
    if not offline and not _hub_reachable(endpoint):
        where = f"{endpoint} cannot be reached"
    if where:
        raise UserError(f"--model {model_id}: not a folder, not in the Hugging Face cache ({cache}), and {where}: "
                        f"pass a local model folder, or download it where there is network "
                        f"(`hf download {model_id}`) and copy the cache (HF_HOME)")
    return {"cache_dir": cache}


def refuse_remote_code(model_id: str, revision: str | None = None, trust_remote_code: bool = False) -> None:
    """A model whose config or tokenizer config maps its classes to its own code (`auto_map`) is
    refused with one line unless --trust-remote-code is given: transformers would otherwise ask
    "run the custom code? [y/N]" on the terminal, or run it."""
    if trust_remote_code:
        return
    for name in ("config.json", "tokenizer_config.json"):
        found = _model_file(model_id, name, revision)
        if found is None:
            continue
        try:
            import json

            mapping = json.loads(found.read_text(encoding="utf-8")).get("auto_map")
        except (OSError, ValueError, RecursionError, AttributeError):
            continue   # loading names the problem
        if mapping:
            raise UserError(f"--model {model_id}: its {name} asks to run the model's own code (auto_map: "
                            f"{', '.join(sorted(map(str, mapping))[:3])}); psw runs no model code unless "
                            f"you pass --trust-remote-code")


def _model_file(model_id: str, name: str, revision: str | None) -> Path | None:
    """A file of a local model folder, or of a hub model in the local cache (never downloaded)."""
    folder = Path(model_id).expanduser()
    if folder.is_dir():
        return folder / name if (folder / name).is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model_id, name, revision=revision)
    except Exception:  # noqa: BLE001 (not a hub id: loading names the problem)
        return None
    return Path(cached) if isinstance(cached, str) else None


def load_model(model_id: str, revision: str | None = None, dtype: str = "auto",
               device: str = "auto", trust_remote_code: bool = False):
    """(model, tokenizer, provenance) for a hub id or a local path. No remote code unless asked."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    source = hub_source(model_id, revision)
    refuse_remote_code(model_id, revision, trust_remote_code)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_id, revision=revision,
                                                  trust_remote_code=trust_remote_code, **source)
        import transformers

        # transformers 5 calls it `dtype`; 4.x `torch_dtype`
        dtype_kw = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
        model = AutoModelForCausalLM.from_pretrained(model_id, revision=revision, trust_remote_code=trust_remote_code,
                                                     **{dtype_kw: torch_dtype}, **source)
    except (OSError, ValueError) as exc:
        hint = "; the cache may hold part of it: run `hf download` again" if source.get("local_files_only") else ""
        raise UserError(f"--model {model_id}: cannot load ({str(exc).splitlines()[0]}){hint}") from None
    model.to(dev).eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, provenance_for(model, tokenizer, model_id, revision)
