"""Upstream's baseline-anchored artifacts (validate_persona_axes.py after 2026-07): checks and judge calls.

Each pole is judged against a no-persona baseline answer, forward and reverse, per axis judge:
`axis_judgments[]` entries hold `pos_base_forward_judgment`, `pos_base_reverse_judgment`,
`neg_base_forward_judgment`, `neg_base_reverse_judgment` and upstream's own `delta_pos_vs_base`,
`delta_base_vs_neg`, `axis_delta`. A bounded-thinking judge's objects also keep `found`,
`found_rate`, `forced_rate`, `n_samples`, `budget` and `samples[]`. The judge objects land as
raw.judgments rows (criteria warehouse.judge_schema.ANCHORED_AXIS_CRITERIA); the baseline answer in
raw.pairs.base_response; upstream's derived numbers stay in the pair's `extra`, where dbt compares
them with its own (int_anchored_pairs). Nothing is derived here.
"""

from __future__ import annotations

import json
import math
from typing import Any

from warehouse.judge_schema import ANCHORED_AXIS_CRITERIA, problem

JUDGMENT_KEYS = {c: f"{c}_judgment" for c in ANCHORED_AXIS_CRITERIA}
BOUNDED_FIELDS = ("found", "found_rate", "forced_rate", "n_samples", "budget", "samples")
AXIS_JUDGE_METHODS = ("json", "bounded_thinking")
# top-level fields of an anchored artifact: (field, kind, lo, hi)
RUN_NUMBERS = (("axis_delta_threshold", -8, 8), ("min_side_threshold", -2, 2), ("off_axis_threshold", 1, 7),
               ("max_word_delta_frac", 0, 1e6))
RUN_LISTS = ("exclude_confound_dims", "generator_provider_only")
# a row's own derived fields: (field, lo, hi); overall_score = 4*min_side - gate - style - 3*(three flags)
ROW_NUMBERS = (("delta_pos_vs_base", -2, 2), ("delta_base_vs_neg", -2, 2), ("min_side_delta", -2, 2),
               ("off_axis_problem_likert_gate", 1, 7), ("overall_score", -31, 8), ("axis_delta", -8, 8))
ROW_BOOLEANS = ("control_pair", "judge_did_not_commit")
JUDGE_NUMBERS = (("delta_pos_vs_base", 2), ("delta_base_vs_neg", 2), ("axis_delta", 8))


def is_anchored(result: Any) -> bool:
    """A result judged against a baseline: its axis judges hold pos_base_* calls."""
    judges = result.get("axis_judgments") if isinstance(result, dict) else None
    return (isinstance(judges, list) and bool(judges) and isinstance(judges[0], dict)
            and any(key in judges[0] for key in JUDGMENT_KEYS.values()))


def is_anchored_run(doc: dict) -> bool:
    return any(is_anchored(result) for result in doc.get("results", []))


def _number(value: Any, lo: float, hi: float) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
            and lo <= value <= hi)


def _whole(value: Any, lo: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= lo


def _shown(value: Any) -> str:
    return json.dumps(value)[:60]


def run_problem(doc: dict) -> str | None:
    """The first problem with an anchored artifact's top-level settings, or None."""
    for key, lo, hi in RUN_NUMBERS:
        if doc.get(key) is not None and not _number(doc[key], lo, hi):
            return f"field {key}: expected a number in {lo:g}..{hi:g}, got {_shown(doc[key])}"
    for key in RUN_LISTS:
        value = doc.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)):
            return f"field {key}: expected a list of non-empty strings, got {_shown(value)}"
    if doc.get("inspect_log") is not None and not isinstance(doc["inspect_log"], str):
        return f"field inspect_log: expected a string (the .eval log's location), got {_shown(doc['inspect_log'])}"
    return None


def bounded_problem(obj: dict) -> str | None:
    """A bounded-thinking judge object keeps all of its sampling record, or none of it."""
    present = [key for key in BOUNDED_FIELDS if key in obj]
    if not present:
        return None
    if len(present) < len(BOUNDED_FIELDS):
        missing = next(key for key in BOUNDED_FIELDS if key not in obj)
        return f"missing required field {missing} (a bounded-thinking judgment keeps {', '.join(BOUNDED_FIELDS)})"
    if not isinstance(obj["found"], bool):
        return f"field found: expected true or false, got {_shown(obj['found'])}"
    for key in ("found_rate", "forced_rate"):
        if not _number(obj[key], 0, 1):
            return f"field {key}: expected a number in 0..1, got {_shown(obj[key])}"
    for key in ("n_samples", "budget"):
        if not _whole(obj[key], 1):
            return f"field {key}: expected a whole number >= 1, got {_shown(obj[key])}"
    samples = obj["samples"]
    if not isinstance(samples, list) or len(samples) != obj["n_samples"]:
        return f"field samples: expected a list of n_samples ({obj['n_samples']}) samples, got {_shown(samples)}"
    for i, sample in enumerate(samples):
        if not (isinstance(sample, dict) and isinstance(sample.get("found"), bool)
                and isinstance(sample.get("forced"), bool) and _whole(sample.get("score"), -5)
                and sample["score"] <= 5):
            return f"samples[{i}]: expected {{score: an integer in -5..5, found: bool, forced: bool}}, got {_shown(sample)}"
    if obj["found"] != (obj["found_rate"] > 0):
        return f"field found: {obj['found']} disagrees with found_rate {obj['found_rate']}"
    return None


def result_problem(result: dict) -> str | None:
    """The first problem with an anchored result (a success), or None."""
    base = result.get("base_response")
    if not isinstance(base, str) or not base.strip():
        return f"field base_response: expected a non-empty string (the baseline answer), got {_shown(base)}"
    if result.get("base_generation_prompt") is not None and not isinstance(result["base_generation_prompt"], str):
        return f"field base_generation_prompt: expected a string, got {_shown(result['base_generation_prompt'])}"
    for key, lo, hi in ROW_NUMBERS:
        if result.get(key) is not None and not _number(result[key], lo, hi):
            return f"field {key}: expected a number in {lo}..{hi}, got {_shown(result[key])}"
    for key in ROW_BOOLEANS:
        if result.get(key) is not None and not isinstance(result[key], bool):
            return f"field {key}: expected true or false, got {_shown(result[key])}"
    if result.get("axis_judge_method") is not None and result["axis_judge_method"] not in AXIS_JUDGE_METHODS:
        return f"field axis_judge_method: expected one of {', '.join(AXIS_JUDGE_METHODS)}, got {_shown(result['axis_judge_method'])}"
    return _judges_problem(result["axis_judgments"])


def _judges_problem(judges: list) -> str | None:
    seen: dict[str, int] = {}
    for i, judge in enumerate(judges):
        where = f"axis_judgments[{i}]"
        if not isinstance(judge, dict):
            return f"{where}: expected a JSON object, got {_shown(judge)}"
        model = judge.get("judge_model")
        if not isinstance(model, str) or not model.strip():
            return f"{where}: missing required field judge_model"
        if model in seen:
            return f"{where}: judge {model!r} already judged this pair at axis_judgments[{seen[model]}]"
        seen[model] = i
        for criterion, key in JUDGMENT_KEYS.items():
            if key not in judge:
                return f"{where}: missing required field {key}"
            found = problem(criterion, judge[key]) or bounded_problem(judge[key])
            if found:
                return f"{where}.{key}: {found}"
        for key, bound in JUDGE_NUMBERS:
            if judge.get(key) is not None and not _number(judge[key], -bound, bound):
                return f"{where}: field {key}: expected a number in -{bound}..{bound}, got {_shown(judge[key])}"
    return None


def calls(result: dict) -> list[tuple[str, str, dict, str | None]]:
    """(judge model, criterion, judge object, raw reply or None) of each anchored axis call."""
    raw = result.get("raw_judge_outputs") if isinstance(result.get("raw_judge_outputs"), dict) else {}
    raw_axis = raw.get("axis") if isinstance(raw.get("axis"), list) else []
    out = []
    for i, judge in enumerate(result["axis_judgments"]):
        replies = raw_axis[i] if i < len(raw_axis) and isinstance(raw_axis[i], dict) else {}
        for criterion, key in JUDGMENT_KEYS.items():
            reply = replies.get(criterion)
            out.append((judge["judge_model"], criterion, judge[key], reply if isinstance(reply, str) else None))
    return out


def published_judges(result: dict) -> list[dict]:
    """Upstream's own per-judge deltas (kept in the pair's extra; dbt compares them with its own)."""
    return [{"judge_model": judge["judge_model"], **{key: judge.get(key) for key, _ in JUDGE_NUMBERS}}
            for judge in result["axis_judgments"]]
