"""Validator run artifacts (one JSON document) -> raw.pairs + raw.judgments rows.

An artifact holds the raw judge objects of every pair; we keep them as they
are and leave every derivation to dbt. Two generations of artifacts load:
- pilot era: per pair one `positive_axis_judgment` and one `negative_axis_judgment`
  (integers with target scores), plus `style_judgment` and `confound_judgment`;
- order-swapped (upstream's v3): `axis_judgments`, a list with one entry per axis judge
  holding its four calls (`<target>_axis_<forward|reverse>_judgment`), plus one style and
  one confound call by the style judge, rated in floats.
A template may be empty (the control arm: no persona text) or lack a `{persona}` slot (an
engineered template whose persona texts are the axis's `pos_persona` / `neg_persona`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ingest.identity import KEY_PARTS, Duplicates
from ingest.read import Reject
from warehouse import keys
from warehouse.judge_schema import CRITERIA, V3_AXIS_CRITERIA, problem
from warehouse.messages import user_turn

JUDGMENT_KEYS = {c: f"{c}_judgment" for c in CRITERIA}
ORDER_SWAPPED_KEYS = {c: f"{c}_judgment" for c in V3_AXIS_CRITERIA}
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
    except RecursionError:
        return None, Reject(None, "invalid JSON: nested too deeply")
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        return None, Reject(1, "a run artifact needs a top-level object with a results[] list")
    problem = metadata_problem(doc)
    if problem:
        return None, Reject(None, problem)
    return doc, None


def metadata_problem(doc: dict) -> str | None:
    """The run's own fields must have the types the measurements table stores (a seed of "abc"
    would otherwise fail inside the insert)."""
    seed = doc.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, float))
                             or seed != int(seed) or not -2**31 <= seed < 2**31):
        return f"seed: expected a whole number, got {json.dumps(seed)[:60]}"
    for key in ("temperature", "gen_temperature"):
        value = doc.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"{key}: expected a number, got {json.dumps(value)[:60]}"
    for key in ("generator_model", "judge_model"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            return f"{key}: expected a model name (text), got {json.dumps(doc[key])[:60]}"
    for key in ("judge_models", "axis_judge_models"):
        value = doc.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return f"{key}: expected a list of model names, got {json.dumps(value)[:60]}"
    return None


def run_metadata(doc: dict) -> dict[str, Any]:
    judges = (doc.get("judge_models") or doc.get("axis_judge_models")
              or ([doc["judge_model"]] if doc.get("judge_model") else []))
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
    if not isinstance(result.get("template"), str):
        return "missing required field template"
    if not isinstance(result.get("prompt"), str) or not result["prompt"].strip():
        return "missing required field prompt"
    template = result["template"]
    if template and "{persona}" not in template and not _has_persona_texts(axis):
        return "field template: has no {persona} slot, and axis has no pos_persona/neg_persona to use whole"
    for key in ("sample", "row"):
        value = result.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            return f"field {key}: expected a non-negative integer, got {value!r}"
    if result.get("scenario_id") is not None and not isinstance(result["scenario_id"], (str, int)):
        return f"field scenario_id: expected a string or an integer, got {result['scenario_id']!r}"
    if result.get("error"):
        return None
    for key in ("pos_response", "neg_response"):
        if not isinstance(result.get(key), str):
            return f"missing required field {key}"
    if result.get("pos_label") not in ("A", "B"):
        return f"field pos_label: expected 'A' or 'B', got {result.get('pos_label')!r}"
    if "axis_judgments" in result:
        return _order_swapped_problem(result)
    return _judgments_problem(result, JUDGMENT_KEYS)


def _has_persona_texts(axis: dict) -> bool:
    return all(isinstance(axis.get(k), str) and axis[k].strip() for k in ("pos_persona", "neg_persona"))


def _judgments_problem(holder: dict, judgment_keys: dict[str, str], where: str = "") -> str | None:
    """The first problem with the stored judge objects `holder` names (one validator for both protocols)."""
    for criterion, key in judgment_keys.items():
        if key not in holder:
            return f"{where}missing required field {key}"
        found = problem(criterion, holder[key])
        if found:
            return f"{where}{key}: {found}"
    return None


def distinct_pairs(pairs: list[dict], judgments: list[dict]):
    """Results repeated exactly are kept once (and counted); two different results with one pair
    key are refused, naming both. Returns (pairs, judgments, duplicates, rejects)."""
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


def _order_swapped_problem(result: dict) -> str | None:
    judges = result["axis_judgments"]
    if not isinstance(judges, list) or not judges:
        return "field axis_judgments: expected a non-empty list"
    for i, judge in enumerate(judges):
        if not isinstance(judge, dict) or not isinstance(judge.get("judge_model"), str) \
                or not judge["judge_model"].strip():
            return f"axis_judgments[{i}]: missing required field judge_model"
        found = _judgments_problem(judge, ORDER_SWAPPED_KEYS, f"axis_judgments[{i}].")
        if found:
            return found
    return _judgments_problem(result, {c: f"{c}_judgment" for c in ("style", "confound")})


def rows(doc: dict, measurement_id: str, load_id: str, loaded_at) -> tuple[list[dict], list[dict], list[Reject]]:
    """Pairs and judgments of a parsed artifact, plus one reject per malformed result."""
    meta = run_metadata(doc)
    pairs, judgments, rejects = [], [], []
    for index, result in enumerate(doc["results"]):
        reason = _problem(result)
        if reason:
            rejects.append(Reject(None, f"results[{index}]: {reason}", json.dumps(result)[:200]))
            continue
        pair = _pair_row(result, measurement_id, load_id, loaded_at, meta)
        pair.update({"where": f"results[{index}]", "content": json.dumps(result, sort_keys=True)})
        pairs.append(pair)
        if result.get("error"):
            continue
        for judge_model, criterion, output, raw_text in _calls(doc, result, meta):
            output = json.dumps(output, sort_keys=True)
            prompt_hash = result.get("judge_prompt_hash") or UNRECORDED_PROMPT
            judgments.append({
                "judgment_id": keys.judgment_id(pair["pair_id"], judge_model, prompt_hash, criterion, output),
                "pair_id": pair["pair_id"], "measurement_id": measurement_id, "load_id": load_id,
                "judge_model": judge_model, "criterion": criterion, "prompt_hash": prompt_hash,
                "pos_label": result["pos_label"], "output": output, "raw_text": raw_text, "error": None,
                "loaded_at": loaded_at,
            })
    return pairs, judgments, rejects


def _pair_row(result: dict, measurement_id: str, load_id: str, loaded_at, meta: dict) -> dict:
    axis = result["axis"]
    pair = keys.pair_id(measurement_id, result["template"], axis["id"], result["prompt"],
                        result.get("sample") or 0, scenario_id=result.get("scenario_id"),
                        row_idx=result.get("row"))
    return {
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
        # the axis stays here whole: an engineered template's persona texts are its pos/neg_persona
        "extra": json.dumps({k: v for k, v in result.items() if k not in _PAIR_FIELDS}),
        "loaded_at": loaded_at,
    }


def sent_messages(generation_prompt: Any) -> str | None:
    """What was sent for one pole, as JSON: the recorded generation prompt as one user turn,
    null when the artifact did not record it (never rebuilt here)."""
    messages = user_turn(generation_prompt)
    return None if messages is None else json.dumps(messages)


def _calls(doc: dict, result: dict, meta: dict) -> list[tuple[str, str, dict, str | None]]:
    """(judge model, criterion, judge object, raw reply text or None) of every judge call of a pair."""
    if "axis_judgments" not in result:
        judge = (meta["judge_models"] or ["unknown"])[0]
        return [(judge, c, result[key], None) for c, key in JUDGMENT_KEYS.items()]
    judges = result["axis_judgments"]
    raw = result.get("raw_judge_outputs") if isinstance(result.get("raw_judge_outputs"), dict) else {}
    raw_axis = raw.get("axis") if isinstance(raw.get("axis"), list) else []
    calls = []
    for i, judge in enumerate(judges):
        replies = raw_axis[i] if i < len(raw_axis) and isinstance(raw_axis[i], dict) else {}
        for criterion, key in ORDER_SWAPPED_KEYS.items():
            reply = replies.get(criterion.replace("_axis", ""))  # positive_forward, ...
            calls.append((judge["judge_model"], criterion, judge[key], _text_or_none(reply)))
    style_judge = doc.get("style_judge_model") or doc.get("judge_model") or judges[0]["judge_model"]
    for criterion in ("style", "confound"):
        calls.append((style_judge, criterion, result[f"{criterion}_judgment"], _text_or_none(raw.get(criterion))))
    return calls


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# stored in their own columns or as raw.judgments rows; everything else of a result goes to `extra`
_PAIR_FIELDS = {"template", "prompt", "row", "sample", "scenario_id", "pos_label", "pos_response",
                "neg_response", "error", "pos_generation_prompt", "neg_generation_prompt",
                "axis_judgments", "raw_judge_outputs", *JUDGMENT_KEYS.values()}
