"""Extraction throughput: hooked batched extraction vs a naive loop, same model and data.

naive : one sequence at a time, the full causal LM with output_hidden_states=True (every
        layer, and the vocabulary logits), then the masked means taken from hidden_states.
hooked: extract.vectors.extract_activations: length-sorted right-padded batches, the base
        model (no logits), hooks on the requested layers only, reduced inside the hook in
        fp32, stopping after the deepest requested layer.

Data: the reference pilot's pairs (both sides, persona prompts from the template) through a
byte-level BPE trained in code and a ChatML template; a random-weight Qwen2. Nothing is
downloaded. Tokens/s counts real (unpadded) tokens.

    python bench/bench_extract.py                      # CPU preset (the README's figures)
    python bench/bench_extract.py --preset qwen2-0.5b  # on a GPU: bf16, adds MFU (--peak-tflops)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from extract.masks import Encoded  # noqa: E402
from extract.testing import tiny_tokenizer  # noqa: E402
from extract.vectors import PairInput, encode_pairs, extract_activations  # noqa: E402

PILOT = Path(__file__).resolve().parents[2] / "shared" / "reference" / "pilot-v2-seed23" / "v2_pilot_seed23_examples.jsonl"
PRESETS = {
    # small enough for a 2-core CPU, shaped like a real decoder (GQA, SwiGLU, 32k vocab)
    "cpu-mini": dict(hidden_size=256, intermediate_size=704, num_hidden_layers=8, num_attention_heads=8,
                     num_key_value_heads=2, vocab_size=32000),
    # Qwen2-0.5B's shape with random weights
    "qwen2-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                       num_key_value_heads=2, vocab_size=151936),
}


def load_pairs() -> list[PairInput]:
    pairs = []
    for i, line in enumerate(PILOT.read_text().splitlines()):
        r = json.loads(line)
        if r.get("error") or not r.get("pos_response"):
            continue
        template = r["template"]
        pairs.append(PairInput(f"p{i}", f"{template}|{r['persona_pair']}",
                               template.replace("{persona}", r["pos_persona"]),
                               template.replace("{persona}", r["neg_persona"]),
                               r["prompt"], r["pos_response"], r["neg_response"]))
    return pairs


@torch.inference_mode()
def naive(model, items: list[Encoded], layers: list[int]) -> torch.Tensor:
    device = next(model.parameters()).device
    out = torch.zeros(len(items), len(layers), model.config.hidden_size)
    for i, e in enumerate(items):
        hidden = model(input_ids=torch.tensor([e.input_ids], device=device), output_hidden_states=True).hidden_states
        for slot, layer in enumerate(layers):
            out[i, slot] = hidden[layer + 1][0, e.response_start:e.response_end].float().mean(0).cpu()
    return out


def timed_interleaved(fns: dict, repeats: int) -> tuple[dict, dict]:
    """Median wall time per method, runs interleaved (A B A B ...) so that load from other
    processes on the machine falls on both alike. One warm-up run each first."""
    results = {name: fn() for name, fn in fns.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            start = time.perf_counter()
            results[name] = fn()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, results


def flops_per_token(config, deepest_layer: int, mean_len: float) -> float:
    """Forward FLOPs per token through layers 0..deepest: 2 x matmul params + causal attention."""
    d, f = config.hidden_size, config.intermediate_size
    kv = d * config.num_key_value_heads // config.num_attention_heads
    per_layer = 2 * (2 * d * d + 2 * d * kv + 3 * d * f) + 2 * d * mean_len  # qkvo, mlp; qk and av, causal
    return per_layer * (deepest_layer + 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=PRESETS, default="cpu-mini")
    parser.add_argument("--layers", default="mid", help="'mid' (3 layers, middle to 3/4 depth), 'all', or 1,2,3")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-pairs", type=int, default=32, help="pilot pairs used (default 32; 0 = all 59)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="GPU bf16 dense peak for MFU (H100 SXM)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    pairs = load_pairs()[: args.max_pairs or None]
    corpus = [p.pos_response for p in pairs] + [p.neg_response for p in pairs] + [p.user for p in pairs]
    tokenizer = tiny_tokenizer(corpus, vocab_size=4000)
    torch.manual_seed(0)
    config = Qwen2Config(**PRESETS[args.preset], max_position_embeddings=4096, tie_word_embeddings=False)
    model = Qwen2ForCausalLM(config).to(device=device, dtype=dtype).eval()
    n_layers = config.num_hidden_layers
    if args.layers == "mid":
        layers = [n_layers // 2, (5 * n_layers) // 8, (3 * n_layers) // 4]
    elif args.layers == "all":
        layers = list(range(n_layers))
    else:
        layers = [int(x) for x in args.layers.split(",")]

    pos, neg = encode_pairs(tokenizer, pairs)
    items = pos + neg
    n_tokens = sum(len(e.input_ids) for e in items)
    mean_len = n_tokens / len(items)

    seconds, outputs = timed_interleaved({
        "naive": lambda: naive(model, items, layers),
        "hooked": lambda: extract_activations(model, items, layers, tokenizer.pad_token_id,
                                              args.batch_size, 16384),
    }, args.repeats)
    naive_s, hooked_s = seconds["naive"], seconds["hooked"]
    naive_out, hooked_out = outputs["naive"], outputs["hooked"]
    # transformers 5 applies the final norm to the last hidden_states entry: compare the
    # layers below the last, where hidden_states[L + 1] is the raw output of model.layers[L]
    comparable = [slot for slot, layer in enumerate(layers) if layer < n_layers - 1]
    max_diff = (naive_out[:, comparable] - hooked_out["response_mean"][:, comparable]).abs().max().item()
    n_params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"device={device} dtype={str(dtype).removeprefix('torch.')} threads={torch.get_num_threads()} "
          f"torch={torch.__version__}; median of {args.repeats} interleaved runs after a warm-up")
    print(f"model: random-weight Qwen2 preset {args.preset} ({n_params:.1f}M params, {n_layers} layers, "
          f"hidden {config.hidden_size}, vocab {config.vocab_size}); layers {layers}")
    print(f"data: {len(pairs)} reference-pilot pairs -> {len(items)} sequences, {n_tokens} tokens "
          f"(mean {mean_len:.0f}, max {max(len(e.input_ids) for e in items)})")
    print(f"naive  : {naive_s:7.2f} s  {n_tokens / naive_s:10.0f} tokens/s")
    print(f"hooked : {hooked_s:7.2f} s  {n_tokens / hooked_s:10.0f} tokens/s  (batch {args.batch_size})")
    print(f"speed-up {naive_s / hooked_s:.1f}x; max |naive - hooked| = {max_diff:.2e} (layers below the last)")
    # what the hooked path can skip: the layers after the deepest requested one and the
    # vocabulary projection. At equal matmul efficiency this ratio bounds the CPU speed-up.
    d, f = config.hidden_size, config.intermediate_size
    kv = d * config.num_key_value_heads // config.num_attention_heads
    layer = 2 * d * d + 2 * d * kv + 3 * d * f
    naive_mm = layer * n_layers + d * config.vocab_size
    hooked_mm = layer * (max(layers) + 1)
    print(f"matmul work per token, naive / hooked: {naive_mm / hooked_mm:.1f}x "
          f"({n_layers} layers + vocab projection vs layers 0..{max(layers)})")
    if device.type == "cuda":
        achieved = n_tokens * flops_per_token(config, max(layers), mean_len) / hooked_s
        print(f"MFU (hooked): {100 * achieved / (args.peak_tflops * 1e12):.1f}% of {args.peak_tflops} TFLOP/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
