"""The keys and scales of the raw judge objects (README.md, "The score").

One definition for both ways judge objects arrive: `psw collect` validates (and
coerces) live judge replies against `spec(criterion, protocol)`, and ingest refuses
malformed stored objects with `problem(criterion, obj, protocol)`. Objects that pass
are stored as they are; dbt derives the metrics.

Two protocols:
- 'pilot' (the seed's v2 validator): `positive_axis` / `negative_axis` calls with
  integer 1-5 pairwise ratings and target scores, an 8-dim integer style call, and a
  confound call with one integer off-axis Likert.
- 'v3' (upstream's later validator): per axis judge, the positive and negative target
  asked in both A/B orders (`positive_axis_forward`, `..._reverse`, `negative_axis_*`),
  each `{target_reason, A_more_target_than_B}` with a 1.0-5.0 rating in steps of 0.1;
  a style call rating the 20 dims of panel('style') 1.0-7.0; a confound call rating the
  21 categories of panel('off_axis') 1.0-7.0 (`<category>_likert`) plus the overall Likert.
- 'anchored' (upstream after 2026-07): each pole judged against a no-persona baseline answer,
  per axis judge `pos_base_forward` (A = the positive answer, B = the baseline), `pos_base_reverse`
  (swapped), `neg_base_forward` (A = the negative answer, B = the baseline, on the negative target),
  `neg_base_reverse`; each `{target_reason, A_more_target_than_B}` as in v3. A bounded-thinking
  judge's object also holds `found`, `found_rate`, `forced_rate`, `n_samples`, `budget` and
  `samples[]` (ingest/anchored.py checks them). Style and confound as in v3. The pair's baseline
  answer is raw.pairs.base_response; its measurement says `"protocol": "anchored"` in its params.
"""

from __future__ import annotations

import csv
import math
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


CRITERIA = ("positive_axis", "negative_axis", "style", "confound")   # the pilot protocol
PILOT_CRITERIA = CRITERIA
V3_AXIS_CRITERIA = ("positive_axis_forward", "positive_axis_reverse",
                    "negative_axis_forward", "negative_axis_reverse")
V3_CRITERIA = (*V3_AXIS_CRITERIA, "style", "confound")
ANCHORED_AXIS_CRITERIA = ("pos_base_forward", "pos_base_reverse", "neg_base_forward", "neg_base_reverse")
ANCHORED_CRITERIA = (*ANCHORED_AXIS_CRITERIA, "style", "confound")
PROTOCOLS = {"pilot": PILOT_CRITERIA, "v3": V3_CRITERIA, "anchored": ANCHORED_CRITERIA}
STYLE_DIMS = ("verbosity", "confidence", "hedging", "warmth", "enthusiasm", "praise", "directness", "formality")
STYLE_FLAGS = ("persona_echo", "refusal_or_ai_break")

# key -> (kind, lo, hi, step); kind in int | num | bool | str. `num` is any finite number
# in lo..hi (a multiple of step when step is set); `int` a whole number.
AXIS_KEYS = {
    "A_more_target_than_B": ("int", 1, 5, None),
    "B_more_target_than_A": ("int", 1, 5, None),
    "target_score_A": ("int", 1, 5, None),
    "target_score_B": ("int", 1, 5, None),
    "target_reason": ("str", None, None, None),
}
CONFOUND_KEYS = {
    "off_axis_problem_likert": ("int", 1, 7, None),
    "likely_spurious_axis": ("str", None, None, None),
    "usable_for_training": ("bool", None, None, None),
    "confound_reason": ("str", None, None, None),
}
V3_AXIS_KEYS = {
    "target_reason": ("str", None, None, None),
    "A_more_target_than_B": ("num", 1.0, 5.0, 0.1),
}


def style_keys(dims=STYLE_DIMS, kind: str = "int") -> dict[str, tuple]:
    lo, hi = (1, 7) if kind == "int" else (1.0, 7.0)
    keys = {f"{dim}_{side}": (kind, lo, hi, None) for dim in dims for side in "AB"}
    keys.update({f"{flag}_{side}": ("bool", None, None, None) for flag in STYLE_FLAGS for side in "AB"})
    keys["style_reason"] = ("str", None, None, None)
    return keys


def v3_confound_keys(categories=None) -> dict[str, tuple]:
    categories = tuple(panel("off_axis")) if categories is None else categories
    keys = {f"{category}_likert": ("num", 1.0, 7.0, None) for category in categories}
    keys.update({
        "off_axis_problem_likert": ("num", 1.0, 7.0, None),
        "likely_spurious_axis": ("str", None, None, None),
        "usable_for_training": ("bool", None, None, None),
        "confound_reason": ("str", None, None, None),
    })
    return keys


def protocol_of(criterion: str, protocol: str | None = None) -> str:
    """The protocol a criterion belongs to: the v3 axis criteria name theirs; style and confound
    exist in both, and are 'pilot' unless told."""
    if protocol is not None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown judge protocol {protocol}")
        return protocol
    if criterion in ANCHORED_AXIS_CRITERIA:
        return "anchored"
    return "v3" if criterion in V3_AXIS_CRITERIA else "pilot"


def spec(criterion: str, dims=None, protocol: str | None = None) -> dict[str, tuple]:
    protocol = protocol_of(criterion, protocol)
    if criterion not in PROTOCOLS[protocol]:
        raise ValueError(f"unknown criterion {criterion} for the {protocol} protocol")
    if criterion in V3_AXIS_CRITERIA or criterion in ANCHORED_AXIS_CRITERIA:
        return V3_AXIS_KEYS
    if criterion in ("positive_axis", "negative_axis"):
        return AXIS_KEYS
    if criterion == "style":
        if protocol in ("v3", "anchored"):
            return style_keys(tuple(panel("style")) if dims is None else dims, "num")
        return style_keys(STYLE_DIMS if dims is None else dims)
    return v3_confound_keys() if protocol in ("v3", "anchored") else CONFOUND_KEYS


def number_problem(key: str, value: Any, lo, hi, step=None) -> str | None:
    """Why `value` is not a number in lo..hi (in steps of `step`), or None. Shared by collect's
    reply validation and ingest's stored-object checks."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"field {key}: expected a number in {lo}..{hi}, got {value!r}"
    if not lo <= value <= hi:
        return f"field {key}: {value} is out of range {lo}..{hi}"
    if step is not None and abs(value / step - round(value / step)) > 1e-6:
        return f"field {key}: {value} is not in steps of {step}"
    return None


def _value_problem(key: str, value: Any, kind: str, lo, hi, step) -> str | None:
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or float(value) != int(value) or not lo <= value <= hi:
            return f"field {key}: expected an integer in {lo}..{hi}, got {value!r}"
    elif kind == "num":
        return number_problem(key, value, lo, hi, step)
    elif kind == "bool" and not isinstance(value, bool):
        return f"field {key}: expected true or false, got {value!r}"
    elif kind == "str" and not isinstance(value, str):
        return f"field {key}: expected a string, got {value!r}"
    return None


def problem(criterion: str, obj: Any, protocol: str | None = None) -> str | None:
    """The first problem with a judge object, or None. Reasons (free text) are optional.

    With `protocol` given (collect validating its own replies) the object must rate every
    dimension of that protocol's panel. Without it (a stored object from an artifact, an
    export or an import) the protocol is read off the object (floats or per-category Likerts
    mean v3) and the dimensions checked are the ones it rates: upstream's panels have changed
    over time, and a stored rating is kept as it is, once its values are in range."""
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    stored = protocol is None
    if stored and criterion in ("style", "confound"):
        protocol = "v3" if _looks_v3(criterion, obj) else "pilot"
    keys = spec(criterion, _rated_dims(obj) if criterion == "style" and (stored or protocol_of(criterion, protocol) == "pilot") else None,
                protocol)
    if stored and criterion == "confound" and protocol == "v3":
        keys = v3_confound_keys(tuple(k[:-len("_likert")] for k in obj
                                      if k.endswith("_likert") and k != "off_axis_problem_likert"))
    for key, (kind, lo, hi, step) in keys.items():
        if key.endswith("_reason"):
            continue
        if key not in obj:
            return f"missing required field {key}"
        found = _value_problem(key, obj[key], kind, lo, hi, step)
        if found:
            return found
    return None


def _rated_dims(obj: dict) -> list[str]:
    return sorted({k[:-2] for k in obj if k.endswith(("_A", "_B"))} - set(STYLE_FLAGS)) or list(STYLE_DIMS)


def _looks_v3(criterion: str, obj: dict) -> bool:
    if criterion == "confound":
        return any(k.endswith("_likert") and k != "off_axis_problem_likert" for k in obj)
    return any(isinstance(v, float) for k, v in obj.items() if k.endswith(("_A", "_B")))


_JSON_TYPES = {"int": "integer", "num": "number", "bool": "boolean", "str": "string"}


def json_schema(criterion: str, protocol: str | None = None) -> dict:
    """The JSON schema of one judge reply, generated from `spec` (so from the panels): every key
    required, its type and range; no other key. A server that constrains its output to it (a
    grammar) cannot leave a key out or a value out of range; a step (the axis rating's 0.1) is
    not expressed, and the validator still checks every reply."""
    properties = {}
    for key, (kind, lo, hi, _step) in spec(criterion, protocol=protocol).items():
        prop = {"type": _JSON_TYPES[kind]}
        if lo is not None:
            prop.update(minimum=lo, maximum=hi)
        properties[key] = prop
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}
