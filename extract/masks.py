"""Token ids and response spans from the chat template.

A conversation is rendered twice by the tokenizer's own chat template: the prompt
with the generation prompt appended, and the full conversation with the assistant
turn. The response span starts where the two stop agreeing and ends before the
template's end-of-turn suffix (what the template adds after an empty assistant turn),
so the span is defined by the template's token ids, never by re-tokenising the response.
"""

from __future__ import annotations

from dataclasses import dataclass

FALLBACK_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    response_start: int  # first response token
    response_end: int  # one past the last response token

    @property
    def last_prompt_index(self) -> int:
        return self.response_start - 1


def supports_system(tokenizer) -> bool:
    if not getattr(tokenizer, "chat_template", None):
        return False
    probe = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    try:
        text = tokenizer.apply_chat_template(probe, tokenize=False)
    except Exception:  # templates that reject the system role raise their own errors
        return False
    return "S" in text


def prompt_messages(tokenizer, system: str | None, user: str, system_ok: bool | None = None) -> list[dict]:
    """The persona prompt as a system message, or prepended to the user turn when the
    template has no system role."""
    if not system:
        return [{"role": "user", "content": user}]
    if system_ok is None:
        system_ok = supports_system(tokenizer)
    if system_ok:
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]
    return [{"role": "user", "content": f"{system}{FALLBACK_SEPARATOR}{user}"}]


def fit_to_template(messages: list[dict], system_ok: bool) -> list[dict]:
    """Recorded messages as this model's template takes them: unchanged, except that a leading
    system turn folds into the user turn after it when the template has no system role (the
    same fold as prompt_messages)."""
    if system_ok or len(messages) < 2 or messages[0]["role"] != "system" or messages[1]["role"] != "user":
        return list(messages)
    folded = {"role": "user", "content": f"{messages[0]['content']}{FALLBACK_SEPARATOR}{messages[1]['content']}"}
    return [folded, *messages[2:]]


def pole_messages(tokenizer, recorded: list[dict] | None, system: str | None, user: str,
                  system_ok: bool) -> list[dict]:
    """The prompt one pole is teacher-forced under: the messages that were sent when they were
    recorded, else the persona prompt rebuilt from the template (callers count those)."""
    if recorded is not None:
        return fit_to_template(recorded, system_ok)
    return prompt_messages(tokenizer, system, user, system_ok)


def render_prompt(tokenizer, messages: list[dict]) -> str:
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return FALLBACK_SEPARATOR.join(m["content"] for m in messages) + FALLBACK_SEPARATOR


def _ids(tokenizer, text: str) -> list[int]:
    # the rendered template already carries its special tokens (bos included)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def encode_pair_side(tokenizer, messages: list[dict], response: str) -> Encoded:
    """Token ids of (prompt messages + assistant response) and where the response lies."""
    prompt_ids = _ids(tokenizer, render_prompt(tokenizer, messages))
    if not getattr(tokenizer, "chat_template", None):
        full_ids = _ids(tokenizer, render_prompt(tokenizer, messages) + response)
        suffix: list[int] = []
    else:
        full = messages + [{"role": "assistant", "content": response}]
        empty = messages + [{"role": "assistant", "content": ""}]
        full_ids = _ids(tokenizer, tokenizer.apply_chat_template(full, tokenize=False))
        empty_ids = _ids(tokenizer, tokenizer.apply_chat_template(empty, tokenize=False))
        suffix = empty_ids[len(prompt_ids):] if empty_ids[: len(prompt_ids)] == prompt_ids else []
    start = _common_prefix(prompt_ids, full_ids)
    end = len(full_ids) - len(suffix) if suffix and full_ids[-len(suffix):] == suffix else len(full_ids)
    start = max(1, min(start, end - 1))  # at least one prompt token and one response token
    return Encoded(full_ids, start, end)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
