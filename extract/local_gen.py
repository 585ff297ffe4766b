"""Batched local generation with transformers (left padding; greedy at temperature 0).

Used by `psw collect --generator hf:<model or path>` and by `psw extract steer`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from extract.masks import render_prompt
from extract.model_io import load_model


def generate_texts(model, tokenizer, prompts: Sequence[str], max_new_tokens: int, temperature: float = 0.0,
                   batch_size: int = 8, seed: int | None = 0) -> list[tuple[str, int]]:
    """(text, n generated tokens) per rendered prompt, in input order; batches sorted by length."""
    device = next(model.parameters()).device
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    results: list[tuple[str, int]] = [("", 0)] * len(prompts)
    stop_ids = {tokenizer.eos_token_id, tokenizer.pad_token_id} - {None}
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        for start in range(0, len(order), batch_size):
            batch = order[start: start + batch_size]
            inputs = tokenizer([prompts[i] for i in batch], return_tensors="pt", padding=True,
                               add_special_tokens=False).to(device)
            sampling = {"do_sample": True, "temperature": temperature, "top_p": 1.0} if temperature > 0 \
                else {"do_sample": False}
            if seed is not None:
                torch.manual_seed(seed + start)
            with torch.inference_mode():
                output = model.generate(**inputs, max_new_tokens=max_new_tokens,
                                        pad_token_id=tokenizer.pad_token_id, **sampling)
            new_tokens = output[:, inputs["input_ids"].shape[1]:]
            for row, i in enumerate(batch):
                ids = new_tokens[row].tolist()
                n = next((k for k, t in enumerate(ids) if t in stop_ids), len(ids))
                results[i] = (tokenizer.decode(ids[:n], skip_special_tokens=True), n)
    finally:
        tokenizer.padding_side = side
    return results


class LocalGenerator:
    """A causal LM that completes chat conversations in batches."""

    def __init__(self, model_id_or_path: str, device: str = "auto", dtype: str = "auto",
                 revision: str | None = None, trust_remote_code: bool = False, batch_size: int = 8):
        self.model, self.tokenizer, self.provenance = load_model(
            model_id_or_path, revision=revision, dtype=dtype, device=device,
            trust_remote_code=trust_remote_code)
        self.model_id = model_id_or_path
        self.batch_size = batch_size

    def generate_batch(self, list_of_messages: list[list[dict]], max_new_tokens: int,
                       temperature: float) -> list[str]:
        prompts = [render_prompt(self.tokenizer, messages) for messages in list_of_messages]
        pairs = generate_texts(self.model, self.tokenizer, prompts, max_new_tokens, temperature, self.batch_size)
        return [text for text, _ in pairs]
