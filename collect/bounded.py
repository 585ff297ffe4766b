"""Bounded-thinking axis judges (upstream's `scripts/bounded_thinking_judge.py`), over HTTP.

A reasoning judge may think to its token budget and never give a verdict. Each judge call is
sampled `n` times; one sample is:
  phase 1: the prompt at the thinking model's sampling settings, `max_tokens = budget`; a reply
           with a `SCORE: <int -5..+5>` line commits;
  phase 2: otherwise the same conversation continues (the reasoning the server returned, or
           "(thinking truncated)", as the assistant turn) with "answer NOW", thinking off,
           256 tokens; a SCORE line there commits as `forced`.
The verdict is the rounded mean SCORE of the committed samples, mapped to the validator's
scale `A_more_target_than_B = 3 + 0.4 * SCORE` (clamped to 1..5, one decimal). A call where
no sample committed is 3.0 with `found: false`: never a silent tie, the pair is flagged
(`judge_did_not_commit`). The stored object keeps `found`, `found_rate`, `forced_rate`,
`n_samples`, `budget` and `samples[]` as upstream's artifact does.

Each sample is its own cached call (its index is part of the cache key, and of the seed where
the server takes one), so a re-run answers every sample from the cache and N samples are N calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re

from collect.client import ChatClient, ChatResult, cache_key

# upstream's sampling settings: phase 1 at the thinking card's, phase 2 at the instruct card's
THINK = {"temperature": 1.0, "top_p": 0.95, "top_k": 20, "presence_penalty": 1.5}
FORCE = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "presence_penalty": 1.5,
         "reasoning": {"exclude": True, "effort": "none"}, "reasoning_effort": "none",
         "include_reasoning": False}
FORCE_MAX_TOKENS = 256
FORCE_PROMPT = "You are out of thinking time. Answer NOW: first line exactly `SCORE: <int -5..+5>`."
TRUNCATED = "(thinking truncated)"
REASONING_TAIL = 2000
_SCORE = re.compile(r"\s*SCORE:\s*([+-]?\d+)", re.I)


def parse_score(text: str | None) -> tuple[int, bool]:
    """(score clamped to -5..5, found): the first line that starts with `SCORE: <int>`.
    `found` tells a real `SCORE: 0` from no verdict."""
    for line in (text or "").splitlines():
        match = _SCORE.match(line)
        if match:
            return max(-5, min(5, int(match.group(1)))), True
    return 0, False


def score_to_a_more_target_than_b(score: int) -> float:
    return max(1.0, min(5.0, round((3.0 + 0.4 * score) * 10.0) / 10.0))


def verdict(samples: list[dict], budget: int) -> dict:
    """The stored judge object of one call from its samples ({score, found, forced} each)."""
    committed = [s for s in samples if s["found"]]
    found_rate = len(committed) / len(samples) if samples else 0.0
    forced_rate = sum(s["forced"] for s in committed) / len(committed) if committed else 0.0
    score = round(sum(s["score"] for s in committed) / len(committed)) if committed else 0
    return {
        "target_reason": "",
        "A_more_target_than_B": score_to_a_more_target_than_b(score) if committed else 3.0,
        "found": found_rate > 0.0,
        "found_rate": round(found_rate, 4),
        "forced_rate": round(forced_rate, 4),
        "n_samples": len(samples),
        "budget": budget,
        "samples": samples,
    }


def _seed(seed: int | None, model: str, messages: list[dict], sample: int) -> dict:
    if seed is None:
        return {}
    blob = json.dumps([seed, model, messages, sample], sort_keys=True, ensure_ascii=False)
    return {"seed": int(hashlib.sha256(blob.encode("utf-8")).hexdigest()[:8], 16) % 2 ** 31}


def phase1_params(budget: int) -> dict:
    return {"max_tokens": budget, **THINK}


def phase2_params() -> dict:
    return {"max_tokens": FORCE_MAX_TOKENS, **FORCE}


def phase2_messages(prompt_messages: list[dict], first: ChatResult) -> list[dict]:
    tail = (first.reasoning or "")[-REASONING_TAIL:]
    return [*prompt_messages, {"role": "assistant", "content": tail or TRUNCATED},
            {"role": "user", "content": FORCE_PROMPT}]


def sample_key(client: ChatClient, model: str, messages: list[dict], params: dict, sample: int) -> str:
    """The cache key of one sample: the request plus its index (identical requests are N samples)."""
    return cache_key(client.server, model, messages, {**params, "psw_bounded_sample": sample})


async def judge(client: ChatClient, model: str, messages: list[dict], *, n: int, budget: int,
                seed: int | None, tag: dict, extra: dict | None = None) -> tuple[dict | None, str, str | None]:
    """(object, raw text, error) of one bounded-thinking judge call: `n` samples. `extra`: request
    fields every call carries (OpenRouter's `usage: {include: true}`, so the cost is reported)."""
    extra = extra or {}

    async def one(i: int):
        p1 = {**phase1_params(budget), **extra, **_seed(seed, model, messages, i)}
        first = await client.chat(model, messages, p1, key=sample_key(client, model, messages, p1, i), tag=tag)
        if first.error:
            return None, {"phase1": None}, f"sample {i}: {first.error}"
        score, found = parse_score(first.content)
        if found:
            return {"score": score, "found": True, "forced": False}, {"phase1": first.content}, None
        forced = phase2_messages(messages, first)
        p2 = {**phase2_params(), **extra, **_seed(seed, model, forced, i)}
        second = await client.chat(model, forced, p2, key=sample_key(client, model, forced, p2, i), tag=tag)
        if second.error:
            return None, {"phase1": first.content, "phase2": None}, f"sample {i} (forced): {second.error}"
        score, found = parse_score(second.content)
        return ({"score": score, "found": found, "forced": True},
                {"phase1": first.content, "phase2": second.content}, None)

    done = await asyncio.gather(*(one(i) for i in range(n)))
    raw = json.dumps([texts for _, texts, _ in done], ensure_ascii=False)
    errors = [err for _, _, err in done if err]
    if errors:
        return None, raw, "; ".join(errors)
    return verdict([sample for sample, _, _ in done], budget), raw, None


def call_count(n: int) -> int:
    """Calls one bounded judge call costs at least (phase 2 only when phase 1 gives no verdict)."""
    return n
