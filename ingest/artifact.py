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

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from ingest import anchored
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


class DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    """An object whose keys repeat is refused: parsers disagree on which value counts."""
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise DuplicateKey(f"duplicate key {key!r} in one object (parsers disagree on which value counts); keep one")
    return obj


def load_document(path: Path) -> tuple[dict | None, Reject | None]:
    text = path.read_text(encoding="utf-8").removeprefix("\ufeff")
    try:
        doc = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        return None, Reject(exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
    except DuplicateKey as exc:
        return None, Reject(None, str(exc))
    except ValueError as exc:  # NaN, Infinity: Python's json accepts them, JSON does not
        return None, Reject(None, f"invalid JSON: {exc}")
    except RecursionError:
        return None, Reject(None, "invalid JSON: nested too deeply")
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        return None, Reject(1, "a run artifact needs a top-level object with a results[] list")
    return doc, None   # the run's own fields: run_metadata_problem, checked by the loader


INT32 = (-(2**31), 2**31 - 1)


def is_failure(error: Any) -> bool:
    """The one `error` rule of every kind (README.md): null, absent or "" is a success; any other
    value (a message, false, 0, an object) says the pair failed."""
    return error is not None and error != ""


def error_text(error: Any) -> str | None:
    """The stored error: the message as given, or a non-string value as its JSON."""
    if not is_failure(error):
        return None
    return error if isinstance(error, str) else json.dumps(error, sort_keys=True)


def _is_int(value: Any, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def run_metadata_problem(doc: dict) -> Reject | None:
    """The run-level fields a load records for its measurement, in their exact types."""
    def bad(key: str, expect: str) -> Reject:
        return Reject(None, f"field {key}: expected {expect}, got {json.dumps(doc[key])[:60]}")
    for key in ("generator_model", "judge_model", "style_judge_model"):
        if doc.get(key) is not None and not (isinstance(doc[key], str) and doc[key].strip()):
            return bad(key, "a non-empty string")
    for key in ("judge_models", "axis_judge_models"):
        value = doc.get(key)
        if value is not None and not (isinstance(value, list)
                                      and all(isinstance(v, str) and v.strip() for v in value)):
            return bad(key, "a list of non-empty strings")
    for key in ("temperature", "gen_temperature"):
        value = doc.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value) or not 0 <= value <= 1e6):
            return bad(key, "a number >= 0")
    if doc.get("seed") is not None and not _is_int(doc["seed"], *INT32):
        return bad("seed", f"an integer in {INT32[0]}..{INT32[1]}")
    found = anchored.run_problem(doc) if anchored.is_anchored_run(doc) else None
    return Reject(None, found) if found else None


def run_metadata(doc: dict) -> dict[str, Any]:
    judges = (doc.get("judge_models") or doc.get("axis_judge_models")
              or ([doc["judge_model"]] if doc.get("judge_model") else []))
    return {
        "generator_model": doc.get("generator_model"),
        "judge_models": judges,
        "temperature": doc.get("temperature", doc.get("gen_temperature")),
        "seed": doc.get("seed"),
        "params": {k: v for k, v in doc.items() if k != "results"}
        | ({"protocol": "anchored"} if anchored.is_anchored_run(doc) else {}),
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
        if value is not None and not _is_int(value, 0, INT32[1]):
            return f"field {key}: expected an integer in 0..{INT32[1]}, got {json.dumps(value)[:60]}"
    scenario_id = result.get("scenario_id")
    if scenario_id is not None and not (_is_int(scenario_id, -(2**63), 2**64 - 1)
                                        or isinstance(scenario_id, str) and scenario_id.strip()):
        return f"field scenario_id: expected a non-empty string or an integer, got {json.dumps(scenario_id)[:60]}"
    for key in ("pos_generation_prompt", "neg_generation_prompt", "judge_prompt_hash"):
        if result.get(key) is not None and not isinstance(result[key], str):
            return f"field {key}: expected a string, got {json.dumps(result[key])[:60]}"
    if result.get("judge_prompt_hash") == "":
        return "field judge_prompt_hash: expected a non-empty string"
    if is_failure(result.get("error")):
        return None
    for key in ("pos_response", "neg_response"):
        if key not in result or result[key] is None:
            return f"missing required field {key}"
        if not isinstance(result[key], str) or not result[key].strip():
            return f"field {key}: expected a non-empty string, got {json.dumps(result[key])[:60]}"
    if result.get("pos_label") not in ("A", "B"):
        return f"field pos_label: expected 'A' or 'B', got {result.get('pos_label')!r}"
    if anchored.is_anchored(result):
        return anchored.result_problem(result) or _judgments_problem(
            result, {c: f"{c}_judgment" for c in ("style", "confound")})
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
    seen: dict[str, int] = {}
    for i, judge in enumerate(judges):
        if not isinstance(judge, dict):
            return f"axis_judgments[{i}]: expected a JSON object, got {json.dumps(judge)[:60]}"
        if not isinstance(judge.get("judge_model"), str) or not judge["judge_model"].strip():
            return f"axis_judgments[{i}]: missing required field judge_model"
        if judge["judge_model"] in seen:
            return (f"axis_judgments[{i}]: judge {judge['judge_model']!r} already judged this pair at "
                    f"axis_judgments[{seen[judge['judge_model']]}] (one axis judgment per judge per pair)")
        seen[judge["judge_model"]] = i
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
        content = json.dumps(result, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        # the result's id: its measurement and the parsed result, canonically (sorted keys, one JSON array)
        pair["record_id"] = hashlib.md5(json.dumps([measurement_id, content]).encode()).hexdigest()
        pair.update({"where": f"results[{index}]", "content": content})
        pairs.append(pair)
        if is_failure(result.get("error")):
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
        "scenario_id": None if result.get("scenario_id") is None else str(result["scenario_id"]),
        "scenario_text": result["prompt"],
        "sample_idx": result.get("sample") or 0, "row_idx": result.get("row"),
        "pos_label": result.get("pos_label"),
        "pos_prompt": result.get("pos_generation_prompt"), "neg_prompt": result.get("neg_generation_prompt"),
        "pos_response": result.get("pos_response"), "neg_response": result.get("neg_response"),
        "pos_messages": sent_messages(result.get("pos_generation_prompt")),
        "neg_messages": sent_messages(result.get("neg_generation_prompt")),
        "generator_model": meta["generator_model"], "error": error_text(result.get("error")),
        "base_prompt": result.get("base_generation_prompt"), "base_response": result.get("base_response"),
        # the axis stays here whole: an engineered template's persona texts are its pos/neg_persona;
        # an anchored result keeps upstream's per-judge deltas (its judge objects are judgments rows)
        "extra": json.dumps({k: v for k, v in result.items() if k not in _PAIR_FIELDS}
                            | ({"published_axis_judgments": anchored.published_judges(result)}
                               if anchored.is_anchored(result) else {})),
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
    if anchored.is_anchored(result):   # each pole against the baseline: ingest/anchored.py
        calls = anchored.calls(result)
    else:
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
                "base_generation_prompt", "base_response",
                "axis_judgments", "raw_judge_outputs", *JUDGMENT_KEYS.values()}
