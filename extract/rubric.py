"""The steering judge's rubric: one plain-text file per criterion (data/prompts/steering/): trait
and coherence (0-100), and with `--axbench` AxBench's concept, instruction and fluency (0-2).

A rubric is data, not a template. Its slots `{pos}`, `{neg}`, `{question}` and `{answer}` are
filled in one pass over the rubric's own text: a value is inserted as it is and never looked at
again, so a scenario or a response holding `{answer}`, `{{ ... }}` or `{x.__class__}` reaches the
judge verbatim, and so does any brace in the rubric that is not a slot. Each rubric is identified
by the sha256 of its text (trailing newlines dropped): an edited rubric is a new rubric.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from warehouse.errors import UserError

RUBRIC_DIR = Path(__file__).resolve().parents[1] / "data" / "prompts" / "steering"
SLOT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
SLOTS = {"pos", "neg", "question", "answer"}
# criterion -> the slots its rubric must use (a trait rubric names both poles)
REQUIRED = {"trait": ("pos", "neg", "answer"), "coherence": ("answer",),
            # AxBench's three 0-2 ratings: the concept (the positive pole), instruction relevance, fluency
            "concept": ("pos", "answer"), "instruction": ("question", "answer"), "fluency": ("answer",)}
DEFAULT_CRITERIA = ("trait", "coherence")
AXBENCH_CRITERIA = ("concept", "instruction", "fluency")
# criterion -> the top of its scale (every scale starts at 0)
SCALE_MAX = {"trait": 100, "coherence": 100, "concept": 2, "instruction": 2, "fluency": 2}


@dataclass(frozen=True)
class Rubric:
    criterion: str
    text: str
    path: Path

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def fill(self, **values: str) -> str:
        """The rubric with each slot replaced by its value, in one pass (values are never re-read)."""
        return SLOT.sub(lambda match: values[match.group(1)], self.text)


def eval_prompt_rubric(text: str, where: str) -> Rubric:
    """A persona_vectors trait file's `eval_prompt` as the trait rubric: it names the trait in its
    own words, so it needs only `{answer}` (and may use `{question}`); UserError on another slot."""
    text = text.rstrip("\n")
    unknown = sorted({slot for slot in SLOT.findall(text) if slot not in SLOTS})
    if unknown or "answer" not in SLOT.findall(text):
        problem = f"unknown slot {{{unknown[0]}}}" if unknown else "no {answer} slot"
        raise UserError(f"{where}: eval_prompt has {problem}; judge with `--rubric DIR` instead")
    return Rubric("trait", text, Path(where))


def load_rubrics(directory: Path | None = None, criteria: tuple[str, ...] = DEFAULT_CRITERIA) -> dict[str, Rubric]:
    """criterion -> Rubric, from `<directory>/<criterion>.txt`; UserError naming the file (and line)
    for a missing file, an unknown slot or a required slot it lacks."""
    directory = Path(directory or RUBRIC_DIR)
    return {criterion: _load(directory / f"{criterion}.txt", criterion, criteria) for criterion in criteria}


def _load(path: Path, criterion: str, criteria: tuple[str, ...]) -> Rubric:
    try:
        text = path.read_text(encoding="utf-8").rstrip("\n")
    except FileNotFoundError:
        raise UserError(f"--rubric {path}: missing (a rubric folder holds {', '.join(f'{c}.txt' for c in criteria)})"
                        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--rubric {path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    for line_no, line in enumerate(text.splitlines(), 1):
        for match in SLOT.finditer(line):
            if match.group(1) not in SLOTS:
                raise UserError(f"{path}:{line_no}: unknown slot {match.group(0)} "
                                f"(a rubric may use {', '.join('{' + s + '}' for s in sorted(SLOTS))})")
    used = set(SLOT.findall(text))
    missing = [slot for slot in REQUIRED[criterion] if slot not in used]
    if missing:
        raise UserError(f"{path}: the {criterion} rubric needs the slot(s) {', '.join('{' + s + '}' for s in missing)}")
    return Rubric(criterion, text, path)
