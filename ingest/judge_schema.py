"""The keys and scales of the four raw judge objects (ARCHITECTURE.md, "Scoring").

Used to refuse malformed judge objects before they reach the raw layer; a
judge object that passes here is stored as-is and dbt derives the metrics.
"""

from __future__ import annotations

from typing import Any

CRITERIA = ("positive_axis", "negative_axis", "style", "confound")
STYLE_DIMS_V2 = ("verbosity", "confidence", "hedging", "warmth", "enthusiasm", "praise",
                 "directness", "formality")


def _int_in(obj: dict, key: str, lo: int, hi: int) -> str | None:
    if key not in obj:
        return f"missing required field {key}"
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
        return f"field {key}: expected an integer in {lo}..{hi}, got {value!r}"
    if not lo <= value <= hi:
        return f"field {key}: expected an integer in {lo}..{hi}, got {value!r}"
    return None


def _bool(obj: dict, key: str) -> str | None:
    if not isinstance(obj.get(key), bool):
        return f"field {key}: expected true or false, got {obj.get(key, 'nothing')!r}"
    return None


def _text(obj: dict, key: str) -> str | None:
    if not isinstance(obj.get(key), str):
        return f"field {key}: expected a string, got {obj.get(key, 'nothing')!r}"
    return None


def validate(criterion: str, obj: Any) -> str | None:
    """Return the first problem with a judge object, or None if it is well-formed."""
    if not isinstance(obj, dict):
        return f"{criterion}: expected a JSON object, got {type(obj).__name__}"
    if criterion in ("positive_axis", "negative_axis"):
        checks = [_int_in(obj, k, 1, 5) for k in
                  ("A_more_target_than_B", "B_more_target_than_A", "target_score_A", "target_score_B")]
    elif criterion == "style":
        dims = sorted({k[:-2] for k in obj if k.endswith(("_A", "_B"))}
                      - {"persona_echo", "refusal_or_ai_break"}) or list(STYLE_DIMS_V2)
        checks = [_int_in(obj, f"{d}_{side}", 1, 7) for d in dims for side in "AB"]
        checks += [_bool(obj, f"{flag}_{side}") for flag in ("persona_echo", "refusal_or_ai_break")
                   for side in "AB"]
    elif criterion == "confound":
        checks = [_int_in(obj, "off_axis_problem_likert", 1, 7), _text(obj, "likely_spurious_axis"),
                  _bool(obj, "usable_for_training")]
    else:
        return f"unknown criterion {criterion}"
    problems = [c for c in checks if c]
    return f"{criterion}: {problems[0]}" if problems else None
