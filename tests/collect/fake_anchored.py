"""Fake-server replies for the baseline-anchored protocol's bounded-thinking judges.

Generations come from fakeserver.default_responder: `[<persona line>] Considering ...`, so a
text tells whose it is: `[You are a alpha...` the positive pole, `[You are a omega...` the
negative pole, `[] ...` the no-persona baseline. The style and confound calls get the default
JSON objects. A bounded axis call (its prompt asks for `SCORE: <int -5..+5>`) is answered by
who is Response A and who is B:

    pos vs base (positive target)  phase 1: `SCORE: 3` on a prompt's first call, `SCORE: +2` after
    base vs pos                    phase 1 thinks without a verdict (reasoning REASONING); the
                                   forced phase 2 says `SCORE: -2`
    neg vs base (negative target)  `SCORE: 4`; for persona pair pp1 never a verdict, even forced
    base vs neg                    `SCORE: -4`
    identical texts (control arm)  `SCORE: 0`
"""

from __future__ import annotations

import re
import threading

from fakeserver import default_responder, first_prompt, is_generation

REASONING = "Weighing A against B: both are reasonable, the baseline hedges more"
_BLOCK = re.compile(r"Response ([AB]):\n<<<\n(.*?)\n>>>", re.S)


def side(text: str) -> str:
    if text.startswith("[You are a alpha"):
        return "pos"
    if text.startswith("[You are a omega"):
        return "neg"
    return "base"


class BoundedJudge:
    """A responder (FakeLLM(responder=BoundedJudge())) with a per-prompt call counter."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen: dict[str, int] = {}
        self.forced_bodies: list[dict] = []

    def __call__(self, body: dict):
        prompt = first_prompt(body)
        if is_generation(body) or "SCORE: <int" not in prompt:
            return default_responder(body)
        blocks = dict(_BLOCK.findall(prompt))
        a, b = side(blocks["A"]), side(blocks["B"])
        forced = len(body["messages"]) > 1
        if forced:
            with self.lock:
                self.forced_bodies.append(body)
        if blocks["A"] == blocks["B"]:
            return "SCORE: 0"
        if (a, b) == ("pos", "base"):
            with self.lock:
                n = self.seen[prompt] = self.seen.get(prompt, 0) + 1
            return "SCORE: 3\nThe first answer acts on it." if n == 1 else "SCORE: +2"
        if (a, b) == ("base", "pos"):
            return "SCORE: -2" if forced else {"content": "Let me think about", "reasoning": REASONING,
                                                "finish_reason": "length"}
        if (a, b) == ("neg", "base"):
            if "(axis 1)" in prompt:
                return "I cannot decide between them." if forced else {"content": "", "finish_reason": "length"}
            return "SCORE: 4"
        return "SCORE: -4"
