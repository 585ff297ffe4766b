"""Prompts (Jinja2 files under data/prompts/), judge-reply parsing and validation.

The judge objects keep the seed validator's keys (warehouse/judge_schema.py), in
A/B terms; dbt maps A/B back to pos/neg with `pos_label`. Nothing here derives a
score: a reply is either a validated object or an error with a reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from warehouse.judge_schema import CRITERIA, spec
from warehouse.keys import text_hash

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "data" / "prompts"

PROMPT_FILES = {
    "generation": "generation_user.j2",
    "positive_axis": "judge_positive_axis.j2",
    "negative_axis": "judge_negative_axis.j2",
    "style": "judge_style.j2",
    "confound": "judge_confound.j2",
    "retry": "judge_retry.j2",
}

SPECS = {criterion: spec(criterion) for criterion in CRITERIA}


class JudgeOutputError(ValueError):
    """A judge reply that cannot be used; the message is the reason stored."""


@dataclass
class Prompts:
    """The prompt files of one run: Jinja2 templates plus the hash of each file's text."""

    directory: Path
    env: jinja2.Environment
    texts: dict[str, str]
    _compiled: dict = field(default_factory=dict)
    memo: dict = field(default_factory=dict)   # scenario text -> rendered generation prompt

    @classmethod
    def load(cls, directory: Path | None = None) -> "Prompts":
        directory = Path(directory or PROMPTS_DIR)
        texts = {}
        for name, fname in PROMPT_FILES.items():
            path = directory / fname
            if not path.is_file():
                from warehouse.db import UserError
                raise UserError(f"{path}:0: prompt file missing")
            texts[name] = path.read_text(encoding="utf-8")
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False,
                                 autoescape=False)
        return cls(directory, env, texts)

    def hash(self, name: str) -> str:
        return text_hash(self.texts[name])

    def judge_set_hash(self) -> str:
        """The `prompt_hash` of every rating: one hash over the four judge prompt files and the
        retry prompt, so the four calls of one pair x judge share it (dbt groups by it) and a
        change to any judge prompt re-judges side by side. Per-file hashes go to
        raw.measurements.params.prompt_hashes."""
        names = (*CRITERIA, "retry")
        return text_hash("\x1e".join(f"{PROMPT_FILES[n]}\x1f{self.texts[n]}" for n in names))

    def render(self, name: str, **ctx) -> str:
        compiled = self._compiled.get(name)
        if compiled is None:
            compiled = self._compiled[name] = self.env.from_string(self.texts[name])
        return compiled.render(**ctx).strip()


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


def extract_json(text: str | None) -> dict:
    """The first JSON object in a reply: bare, fenced (```json ... ```) or inside chatter."""
    if text is None or not text.strip():
        raise JudgeOutputError("empty reply")
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for chunk in candidates:
        chunk = chunk.strip()
        try:
            obj = json.loads(chunk)
            if isinstance(obj, dict):
                return obj
        except ValueError:
            pass
        for m in re.finditer(r"\{", chunk):
            try:
                obj, _ = decoder.raw_decode(chunk, m.start())
            except ValueError:
                continue
            if isinstance(obj, dict):
                return obj
    raise JudgeOutputError("no JSON object in reply")


def _coerce(key: str, value, kind: str, lo, hi):
    if kind == "int":
        if isinstance(value, bool):
            raise JudgeOutputError(f"{key}={value!r} is not an integer")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            value = int(value)
        if not isinstance(value, int):
            raise JudgeOutputError(f"{key}={value!r} is not an integer")
        if not lo <= value <= hi:
            raise JudgeOutputError(f"{key}={value} out of range {lo}-{hi}")
        return value
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise JudgeOutputError(f"{key}={value!r} is not a boolean")
    if value is None or isinstance(value, (dict, list)):
        raise JudgeOutputError(f"{key} is not a string")
    return str(value)


def validate(criterion: str, obj: dict) -> dict:
    """The object with exactly the criterion's keys, every value checked; else JudgeOutputError."""
    spec = SPECS[criterion]
    missing = [k for k in spec if k not in obj]
    if missing:
        raise JudgeOutputError("missing keys: " + ", ".join(missing))
    return {k: _coerce(k, obj[k], *spec[k]) for k in spec}


def parse_reply(criterion: str, text: str | None) -> dict:
    return validate(criterion, extract_json(text))
