"""Prompts (Jinja2 files under data/prompts/), judge-reply parsing and validation.

The judge objects keep the upstream validator's keys (warehouse/judge_schema.py, the 'v3'
protocol), in A/B terms; dbt maps A/B back to pos/neg with `pos_label` (and, for the
`*_reverse` axis calls, the swap). Nothing here derives a score: a reply is either a
validated object or an error with a reason.

A prompt set is a generation layout under data/prompts/layouts/<name>/: `user.j2` (the user
turn) and, optionally, `system.j2` (a system message; none is sent when it renders empty).
The judge prompts (judge_*.j2) are shared by every layout. Only these project files are
templates; user text (personas, scenarios, completions) is passed in as variables.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from jinja2.exceptions import SecurityError
import jinja2.sandbox

from warehouse.errors import UserError
from warehouse.judge_schema import V3_CRITERIA, number_problem, panel, spec
from warehouse.keys import text_hash

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "data" / "prompts"
DEFAULT_LAYOUT = "user_turn"

JUDGE_FILES = {
    "axis": "judge_axis.j2",
    "style": "judge_style.j2",
    "confound": "judge_confound.j2",
    "retry": "judge_retry.j2",
}
LAYOUT_FILES = {"system": "system.j2", "user": "user.j2"}

SPECS = {criterion: spec(criterion, protocol="v3") for criterion in V3_CRITERIA}


class JudgeOutputError(ValueError):
    """A judge reply that cannot be used; the message is the reason stored."""


def layouts(directory: Path | None = None) -> list[str]:
    """The prompt sets (generation layouts) a prompts folder offers."""
    root = Path(directory or PROMPTS_DIR) / "layouts"
    return sorted(p.name for p in root.iterdir() if (p / "user.j2").is_file()) if root.is_dir() else []


@dataclass
class Prompts:
    """The prompt files of one run: Jinja2 templates plus the hash of each file's text."""

    directory: Path
    layout: str
    env: jinja2.Environment
    texts: dict[str, str]
    _compiled: dict = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path | None = None, layout: str = DEFAULT_LAYOUT) -> "Prompts":
        directory = Path(directory or PROMPTS_DIR)
        if layout not in layouts(directory):
            raise UserError(f"--prompt-set:0: unknown prompt set {layout!r}; "
                            f"{directory / 'layouts'} has {', '.join(layouts(directory)) or 'none'}")
        files = {name: directory / fname for name, fname in JUDGE_FILES.items()}
        files.update({f"generation_{name}": directory / "layouts" / layout / fname
                      for name, fname in LAYOUT_FILES.items()})
        texts = {}
        for name, path in files.items():
            if path.is_file():
                texts[name] = path.read_text(encoding="utf-8")
            elif name != "generation_system":
                raise UserError(f"{path}:0: prompt file missing")
        env = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined,
                                                  keep_trailing_newline=False, autoescape=False)
        return cls(directory, layout, env, texts)

    def hash(self, name: str) -> str:
        return text_hash(self.texts[name])

    def generation_hash(self) -> str:
        """The hash of the generation prompt set: its name and its files."""
        parts = [self.layout] + [f"{n}\x1f{self.texts[n]}" for n in ("generation_system", "generation_user")
                                 if n in self.texts]
        return text_hash("\x1e".join(parts))

    def judge_set_hash(self) -> str:
        """The `prompt_hash` of every rating: one hash over the judge prompt files, the retry
        prompt and the two panels they list, so all calls of one pair x judge share it (dbt groups
        by it) and a change to any of them re-judges side by side. Per-file hashes go to
        raw.measurements.params.prompt_hashes."""
        parts = [f"{JUDGE_FILES[n]}\x1f{self.texts[n]}" for n in JUDGE_FILES]
        parts += [f"{name}\x1f{json.dumps(panel(name))}" for name in ("style", "off_axis")]
        return text_hash("\x1e".join(parts))

    def render(self, name: str, **ctx) -> str:
        try:
            compiled = self._compiled.get(name)
            if compiled is None:
                compiled = self._compiled[name] = self.env.from_string(self.texts[name])
            return compiled.render(**ctx).strip()
        except (SecurityError, jinja2.TemplateSyntaxError) as exc:   # the sandbox said no; a broken file
            raise UserError(f"{self.path_of(name)}: {type(exc).__name__}: {exc}") from None

    def path_of(self, name: str) -> Path:
        """The prompt file a prompt name comes from (for messages)."""
        if name.startswith("generation_"):
            return self.directory / "layouts" / self.layout / LAYOUT_FILES[name[len("generation_"):]]
        return self.directory / JUDGE_FILES.get(name, f"judge_{name}.j2")   # axis_bounded: judge_axis_bounded.j2

    def generation_messages(self, persona: str, scenario: str, self_contained: bool) -> list[dict]:
        """The exact chat messages of one generation under this prompt set."""
        ctx = {"persona": persona, "scenario": scenario, "self_contained": self_contained}
        messages = []
        if "generation_system" in self.texts:
            system = self.render("generation_system", **ctx)
            if system:
                messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": self.render("generation_user", **ctx)})
        return messages


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


_NUMBER = re.compile(r"\s*-?\d+(\.\d+)?\s*")


def _coerce(key: str, value, kind: str, lo, hi, step):
    if kind in ("int", "num"):
        if isinstance(value, str) and _NUMBER.fullmatch(value):
            value = float(value)
        if kind == "int" and isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int if kind == "int" else (int, float)):
            raise JudgeOutputError(f"{key}={value!r} is not {'an integer' if kind == 'int' else 'a number'}")
        if not lo <= value <= hi:
            raise JudgeOutputError(f"{key}={value} out of range {lo}-{hi}")
        found = number_problem(key, value, lo, hi, step)
        if found:
            raise JudgeOutputError(found.removeprefix("field "))
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
