"""Validator run artifacts (one JSON document) -> raw.pairs + raw.judgments rows.

An artifact holds the raw judge objects of every pair; we keep them as they
are and leave every derivation to dbt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from warehouse import keys
from warehouse.judge_schema import CRITERIA, problem
from warehouse.messages import user_turn
from ingest.read import Reject

JUDGMENT_KEYS = {c: f"{c}_judgment" for c in CRITERIA}
UNRECORDED_PROMPT = "unrecorded"


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def load_document(path: Path) -> tuple[dict | None, Reject | None]:
    text = path.read_text(encoding="utf-8").removeprefix("\ufeff")
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return None, Reject(exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
    except ValueError as exc:  # NaN, Infinity: Python's json accepts them, JSON does not
        return None, Reject(None, f"invalid JSON: {exc}")
    except RecursionError:
        return None, Reject(None, "invalid JSON: nested too deeply")
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        return None, Reject(1, "a run artifact needs a top-level object with a results[] list")
    return doc, None


def run_metadata(doc: dict) -> dict[str, Any]:
    judges = doc.get("judge_models") or ([doc["judge_model"]] if doc.get("judge_model") else [])
    return {
        "generator_model": doc.get("generator_model"),
        "judge_models": judges,
        "temperature": doc.get("temperature", doc.get("gen_temperature")),
        "seed": doc.get("seed"),
        "params": {k: v for k, v in doc.items() if k != "results"},
    }


def _problem(result: Any) -> str | None:
    if not isinstance(result, dict):
        return "expected a JSON object"
    axis = result.get("axis")
    if not isinstance(axis, dict):
        return "missing required field axis"
    for key in ("id", "pos_descriptor", "neg_descriptor"):
        if not isinstance(axis.get(key), str) or not axis[key].strip():
            return f"missing required field axis.{key}"
    for key in ("template", "prompt"):
        if not isinstance(result.get(key), str) or not result[key].strip():
            return f"missing required field {key}"
    for key in ("sample", "row"):
        value = result.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            return f"field {key}: expected a non-negative integer, got {value!r}"
    if result.get("scenario_id") is not None and not isinstance(result["scenario_id"], (str, int)):
        return f"field scenario_id: expected a string or an integer, got {result['scenario_id']!r}"
    if "{persona}" not in result["template"]:
        return "field template: has no {persona} slot"
    if result.get("error"):
        return None
    for key in ("pos_response", "neg_response"):
        if not isinstance(result.get(key), str):
            return f"missing required field {key}"
    if result.get("pos_label") not in ("A", "B"):
        return f"field pos_label: expected 'A' or 'B', got {result.get('pos_label')!r}"
    for criterion, key in JUDGMENT_KEYS.items():
        if key not in result:
            return f"missing required field {key}"
        found = problem(criterion, result[key])
        if found:
            return f"{key}: {found}"
    return None


def distinct_pairs(pairs: list[dict], judgments: list[dict]):
    """Results repeated exactly are kept once (and counted); two different results with one pair
    key are refused, naming both. Returns (pairs, judgments, duplicates, rejects)."""
    from ingest.identity import KEY_PARTS, Duplicates

    first: dict[str, dict] = {}
    duplicates, rejects = Duplicates(), []
    for pair in pairs:
        seen = first.setdefault(pair["pair_id"], pair)
        if seen is pair:
            continue
        if seen["content"] == pair["content"]:
            duplicates.n_lines += 1
            duplicates.first_line = duplicates.first_line or pair["where"]
        else:
            rejects.append(Reject(None, f"{pair['where']}: same pair as {seen['where']} ({KEY_PARTS} all equal) "
                                        f"but different content; give each result its own `sample` or `row`"))
    kept = list(first.values())
    return kept, list({j["judgment_id"]: j for j in judgments}.values()), duplicates, rejects


def rows(doc: dict, measurement_id: str, load_id: str, loaded_at) -> tuple[list[dict], list[dict], list[Reject]]:
    """Pairs and judgments of a parsed artifact, plus one reject per malformed result."""
    meta = run_metadata(doc)
    judge = (meta["judge_models"] or ["unknown"])[0]
    pairs, judgments, rejects = [], [], []
    for index, result in enumerate(doc["results"]):
        reason = _problem(result)
        if reason:
            rejects.append(Reject(None, f"results[{index}]: {reason}", json.dumps(result)[:200]))
            continue
        axis = result["axis"]
        pair = keys.pair_id(measurement_id, result["template"], axis["id"], result["prompt"],
                            result.get("sample") or 0, scenario_id=result.get("scenario_id"),
                            row_idx=result.get("row"))
        pairs.append({
            "where": f"results[{index}]", "content": json.dumps(result, sort_keys=True),
            "pair_id": pair, "load_id": load_id, "measurement_id": measurement_id,
            "template_text": result["template"], "persona_pair_id": axis["id"],
            "pos_persona": axis["pos_descriptor"], "neg_persona": axis["neg_descriptor"],
            "scenario_id": result.get("scenario_id"), "scenario_text": result["prompt"],
            "sample_idx": result.get("sample") or 0, "row_idx": result.get("row"),
            "pos_label": result.get("pos_label"),
            "pos_prompt": result.get("pos_generation_prompt"), "neg_prompt": result.get("neg_generation_prompt"),
            "pos_response": result.get("pos_response"), "neg_response": result.get("neg_response"),
            "pos_messages": sent_messages(result.get("pos_generation_prompt")),
            "neg_messages": sent_messages(result.get("neg_generation_prompt")),
            "generator_model": meta["generator_model"], "error": result.get("error") or None,
            "extra": json.dumps({k: v for k, v in result.items() if k not in _PAIR_FIELDS}),
            "loaded_at": loaded_at,
        })
        if result.get("error"):
            continue
        prompt_hash = result.get("judge_prompt_hash") or UNRECORDED_PROMPT
        for criterion, key in JUDGMENT_KEYS.items():
            output = json.dumps(result[key], sort_keys=True)
            judgments.append({
                "judgment_id": keys.judgment_id(pair, judge, prompt_hash, criterion, output),
                "pair_id": pair, "measurement_id": measurement_id, "load_id": load_id,
                "judge_model": judge, "criterion": criterion, "prompt_hash": prompt_hash,
                "pos_label": result["pos_label"], "output": output, "raw_text": None, "error": None,
                "loaded_at": loaded_at,
            })
    return pairs, judgments, rejects


def sent_messages(generation_prompt: Any) -> str | None:
    """What was sent for one pole, as JSON: the recorded generation prompt as one user turn,
    null when the artifact did not record it (never rebuilt here)."""
    messages = user_turn(generation_prompt)
    return None if messages is None else json.dumps(messages)


_PAIR_FIELDS = {"axis", "template", "prompt", "row", "sample", "scenario_id", "pos_label", "pos_response",
                "neg_response", "error", "pos_generation_prompt", "neg_generation_prompt",
                *JUDGMENT_KEYS.values()}
