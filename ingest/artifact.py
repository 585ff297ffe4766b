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


def load_document(path: Path) -> tuple[dict | None, Reject | None]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        return None, Reject(exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
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
                            int(result.get("sample", 0)))
        pairs.append({
            "pair_id": pair, "load_id": load_id, "measurement_id": measurement_id,
            "template_text": result["template"], "persona_pair_id": axis["id"],
            "pos_persona": axis["pos_descriptor"], "neg_persona": axis["neg_descriptor"],
            "scenario_id": result.get("scenario_id"), "scenario_text": result["prompt"],
            "sample_idx": int(result.get("sample", 0)), "pos_label": result.get("pos_label"),
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
