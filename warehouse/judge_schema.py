"""The keys and scales of the four raw judge objects (ARCHITECTURE.md, "Scoring").

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


# --- The order-swapped protocol (upstream's v3; v3_protocol.md) ---------------------------------
# Axis calls per judge and target, asked in both A/B orders, each {target_reason, A_more_target_than_B};
# one style call and one confound call per pair, rated in floats. Kept apart from the pilot-era
# specs above, which stay valid for old measurements.

ORDER_SWAPPED_CRITERIA = ("positive_axis_forward", "positive_axis_reverse",
                          "negative_axis_forward", "negative_axis_reverse")
AXIS_RATING_STEP = 0.1


def v3_problem(criterion: str, obj: Any) -> str | None:
    """The first problem with a stored v3 judge object (an order-swapped axis call, or a style or
    confound call rated in floats), or None. Reasons (free text) are optional."""
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    if criterion in ORDER_SWAPPED_CRITERIA:
        return _float_problem(obj, "A_more_target_than_B", 1.0, 5.0, AXIS_RATING_STEP)
    if criterion == "style":
        return _v3_style_problem(obj)
    if criterion == "confound":
        return _v3_confound_problem(obj)
    raise ValueError(f"unknown criterion {criterion}")


def _v3_style_problem(obj: dict) -> str | None:
    """Every dimension the call rates (`<dim>_A` and `<dim>_B`, at least one) is a float in
    1.0..7.0; the persona echo and refusal flags are booleans."""
    dims = sorted({k[:-2] for k in obj if k.endswith(("_A", "_B"))} - set(STYLE_FLAGS)) or list(panel("style"))
    for key in [f"{dim}_{side}" for dim in dims for side in "AB"]:
        found = _float_problem(obj, key, 1.0, 7.0)
        if found:
            return found
    return _required(obj, {f"{flag}_{side}": ("bool", None, None) for flag in STYLE_FLAGS for side in "AB"})


def _v3_confound_problem(obj: dict) -> str | None:
    """Every `<category>_likert` the call rates and off_axis_problem_likert are floats in 1.0..7.0;
    likely_spurious_axis is text and usable_for_training a boolean."""
    likerts = sorted(k for k in obj if k.endswith("_likert") and k != "off_axis_problem_likert")
    for key in ["off_axis_problem_likert", *likerts]:
        found = _float_problem(obj, key, 1.0, 7.0)
        if found:
            return found
    return _required(obj, {"likely_spurious_axis": ("str", None, None), "usable_for_training": ("bool", None, None)})


def _float_problem(obj: dict, key: str, lo: float, hi: float, step: float | None = None) -> str | None:
    if key not in obj:
        return f"missing required field {key}"
    value = obj[key]
    steps = f" in steps of {step}" if step else ""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi \
            or (step and abs(value - round(value / step) * step) > 1e-6):
        return f"field {key}: expected a number in {lo}..{hi}{steps}, got {value!r}"
    return None


def _required(obj: dict, keys: dict[str, tuple]) -> str | None:
    for key, (kind, lo, hi) in keys.items():
        if key not in obj:
            return f"missing required field {key}"
        found = _value_problem(key, obj[key], kind, lo, hi)
        if found:
            return found
    return None
