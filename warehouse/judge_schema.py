"""The keys and scales of the four raw judge objects (the seed validator's keys; README.md, "The score").

One definition for both ways judge objects arrive: `psw collect` validates (and
coerces) live judge replies against `spec(criterion)`, and artifact ingest refuses
malformed stored objects with `problem(criterion, obj)`. Objects that pass are
stored as they are; dbt derives the metrics.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path
from typing import Any

# The judge panels (style dimensions, off-axis categories) are data: one seed table that dbt
# loads as `judge_dimensions` and that Python reads here, so a team edits one file, not code.
DIMENSIONS_CSV = Path(__file__).resolve().parents[1] / "dbt" / "seeds" / "judge_dimensions.csv"


@cache
def panel(name: str) -> dict[str, str]:
    """{dimension: description} of one panel ('style' or 'off_axis'), in the seed table's order."""
    with DIMENSIONS_CSV.open(newline="", encoding="utf-8") as handle:
        return {row["name"]: row["description"] for row in csv.DictReader(handle) if row["panel"] == name}

CRITERIA = ("positive_axis", "negative_axis", "style", "confound")
STYLE_DIMS = ("verbosity", "confidence", "hedging", "warmth", "enthusiasm", "praise", "directness", "formality")
STYLE_FLAGS = ("persona_echo", "refusal_or_ai_break")

# key -> (kind, lo, hi); kind in int | bool | str
AXIS_KEYS = {
    "A_more_target_than_B": ("int", 1, 5),
    "B_more_target_than_A": ("int", 1, 5),
    "target_score_A": ("int", 1, 5),
    "target_score_B": ("int", 1, 5),
    "target_reason": ("str", None, None),
}
CONFOUND_KEYS = {
    "off_axis_problem_likert": ("int", 1, 7),
    "likely_spurious_axis": ("str", None, None),
    "usable_for_training": ("bool", None, None),
    "confound_reason": ("str", None, None),
}


def style_keys(dims=STYLE_DIMS) -> dict[str, tuple]:
    keys = {f"{dim}_{side}": ("int", 1, 7) for dim in dims for side in "AB"}
    keys.update({f"{flag}_{side}": ("bool", None, None) for flag in STYLE_FLAGS for side in "AB"})
    keys["style_reason"] = ("str", None, None)
    return keys


def spec(criterion: str, dims=STYLE_DIMS) -> dict[str, tuple]:
    if criterion in ("positive_axis", "negative_axis"):
        return AXIS_KEYS
    if criterion == "style":
        return style_keys(dims)
    if criterion == "confound":
        return CONFOUND_KEYS
    raise ValueError(f"unknown criterion {criterion}")


def _value_problem(key: str, value: Any, kind: str, lo, hi) -> str | None:
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value) \
                or not lo <= value <= hi:
            return f"field {key}: expected an integer in {lo}..{hi}, got {value!r}"
    elif kind == "bool" and not isinstance(value, bool):
        return f"field {key}: expected true or false, got {value!r}"
    elif kind == "str" and not isinstance(value, str):
        return f"field {key}: expected a string, got {value!r}"
    return None


def problem(criterion: str, obj: Any) -> str | None:
    """The first problem with a stored judge object, or None. Reasons (free text) are optional;
    the style dimensions are the ones the object rates (v2 has 8, later exports more)."""
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    dims = sorted({k[:-2] for k in obj if k.endswith(("_A", "_B"))} - set(STYLE_FLAGS)) or STYLE_DIMS
    for key, (kind, lo, hi) in spec(criterion, dims).items():
        if key.endswith("_reason"):
            continue
        if key not in obj:
            return f"missing required field {key}"
        found = _value_problem(key, obj[key], kind, lo, hi)
        if found:
            return found
    return None
