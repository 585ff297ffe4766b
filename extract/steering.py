"""ActivationSteerer: add coeff * vector to one decoder layer's output while in scope."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from extract.model_io import decoder_layers
from warehouse.errors import UserError

POSITIONS = ("all", "prompt", "response")


class VectorSizeError(UserError, ValueError):
    """A steering vector that does not fit the model's hidden size (one line in the CLI)."""


def hidden_size(model: nn.Module) -> int | None:
    config = getattr(model, "config", None)
    if config is None:
        return None
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    size = getattr(text, "hidden_size", None)
    return size if isinstance(size, int) else None


class ActivationSteerer:
    """Context manager that adds `coeff * steering_vector` to the output of
    `model.layers[layer]` (0-based) on every forward pass in its scope.

    positions:
    - "all": every real token position, at every forward pass
    - "prompt": every real position during prefill (seq_len > 1), nothing while decoding
    - "response": the last position only (the generation cursor, then each new token)

    Pad positions are never steered: the attention mask of each forward call is read
    by a pre-hook on the model. The layer's hidden state is cloned, never edited in
    place, and both hooks are removed on exit, even after an exception.

        with ActivationSteerer(model, vector, coeff=2.0, layer=12, positions="response"):
            model.generate(...)
    """

    def __init__(self, model: nn.Module, steering_vector: Tensor, coeff: float = 1.0,
                 layer: int = 19, positions: str = "all"):
        if positions not in POSITIONS:
            raise ValueError(f"positions must be one of {POSITIONS}, got {positions!r}")
        self.model = model
        self.vector = steering_vector.detach().clone().flatten()
        hidden = hidden_size(model)
        if hidden is not None and self.vector.numel() != hidden:
            raise VectorSizeError(f"steering vector has {self.vector.numel()} values but the model's layers are "
                                  f"{hidden} wide (shape given: {tuple(steering_vector.shape)}); was it made for "
                                  f"another model?")
        self.coeff = float(coeff)
        self.layer = layer
        self.positions = positions
        self._handles: list = []
        self._attention_mask: Tensor | None = None

    def __enter__(self) -> ActivationSteerer:
        target = decoder_layers(self.model)[self.layer]
        try:
            self._handles.append(self.model.register_forward_pre_hook(self._capture_mask, with_kwargs=True))
            self._handles.append(target.register_forward_hook(self._hook_fn))
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._attention_mask = None

    def _capture_mask(self, module, args, kwargs):
        mask = kwargs.get("attention_mask")
        if mask is None and len(args) > 1 and isinstance(args[1], Tensor):
            mask = args[1]
        self._attention_mask = mask if isinstance(mask, Tensor) and mask.dim() == 2 else None

    def _real_positions(self, hidden: Tensor) -> Tensor | None:
        """(batch, seq, 1) mask of non-pad positions for this call, or None if unknown."""
        mask = self._attention_mask
        if mask is None or mask.shape[0] != hidden.shape[0] or mask.shape[1] < hidden.shape[1]:
            return None
        # with a cache, the mask covers past + current tokens; the current ones are last
        return mask[:, -hidden.shape[1]:].to(device=hidden.device, dtype=hidden.dtype).unsqueeze(-1)

    def _hook_fn(self, module, inputs, output):
        hidden = output[0] if isinstance(output, tuple) else output
        if hidden.shape[-1] != self.vector.numel():   # a model without a config said nothing earlier
            raise VectorSizeError(f"steering vector has {self.vector.numel()} values but layer {self.layer} "
                                  f"outputs {hidden.shape[-1]}; was it made for another model?")
        seq_len = hidden.shape[1]
        if self.coeff == 0.0 or (self.positions == "prompt" and seq_len == 1):
            return output
        steer = (self.coeff * self.vector).to(device=hidden.device, dtype=hidden.dtype)
        real = self._real_positions(hidden)
        add = torch.zeros_like(hidden)
        if self.positions == "response":
            add[:, -1, :] = steer
        else:
            add[:] = steer
        if real is not None:
            add = add * real
        steered = hidden.clone()
        steered += add
        if isinstance(output, tuple):
            return (steered,) + tuple(output[1:])
        return steered
