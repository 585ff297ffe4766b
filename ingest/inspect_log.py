"""Inspect AI `.eval` logs of upstream's persona_axis_validation task -> an artifact document.

Upstream's runs are Inspect evaluations (validate_persona_axes.py): each sample's
`store["persona_axis_result"]` holds the pair's row, exactly the result an artifact's `results[]`
holds, and the scorer's value is that row's `overall_score`. The log is read with Inspect's own
reader; its samples become an artifact document that the artifact loader checks and stores
(ingest/artifact.py, ingest/anchored.py), and the model calls recorded in each sample become
raw.api_calls provenance rows. A sample that failed keeps its failure (a result with `error`).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from ingest.read import Reject
from warehouse.secrets import redact, redact_value

TASK = "persona_axis_validation"
RESULT_STORE_KEY = "persona_axis_result"
# a ModelEvent's metadata key under which `psw export-inspect` keeps what Inspect has no field for:
# the call's purpose and base URL, so its log reads back to the same raw.api_calls rows
CALL_METADATA_KEY = "psw_call"
# the task's metadata and the solver's config name the run's settings as the artifact's top level does
RUN_FIELDS = ("generator_model", "judge_model", "axis_judge_models", "style_judge_model", "gen_temperature",
              "seed", "generator_provider_only", "axis_delta_threshold", "min_side_threshold", "off_axis_threshold",
              "exclude_confound_dims", "max_word_delta_frac", "family", "axis_judge_method", "axis_judge_n",
              "axis_judge_budget")


@dataclass
class InspectRun:
    doc: dict
    sample_ids: list[str]                              # results[i] is the sample sample_ids[i]
    calls: list[list[dict]] = field(default_factory=list)   # the model calls of each sample


def read(path) -> tuple[InspectRun | None, Reject | None]:
    """The log as an artifact document, or the one reason it cannot be read."""
    from inspect_ai.log import read_eval_log

    try:
        log = read_eval_log(str(path))
    except Exception as exc:  # Inspect raises many kinds on a file that is not its log
        message = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        return None, Reject(None, f"not a readable Inspect .eval log ({message})")
    task = (log.eval.task or "").split("/")[-1]
    if task != TASK:
        return None, Reject(None, f"an Inspect log of task {log.eval.task!r}, not {TASK!r}: psw reads "
                                  f"upstream's persona-axis validation runs only")
    if not log.samples:
        return None, Reject(None, "the Inspect log holds no samples (a log written with no samples, or "
                                  "a run that did not start)")
    run = InspectRun(doc=_run_fields(log) | {"inspect_log": log.location or str(path), "results": []},
                     sample_ids=[])
    for sample in log.samples:
        where = f"sample {sample.id}" + (f" (epoch {sample.epoch})" if sample.epoch and sample.epoch > 1 else "")
        result, problem = _result(sample, where)
        if problem:
            return None, Reject(None, problem)
        run.doc["results"].append(result)
        run.sample_ids.append(where)
        run.calls.append(_model_calls(log, sample))
    return run, None


def _run_fields(log) -> dict:
    found: dict[str, Any] = {}
    for step in (log.plan.steps if log.plan else []):
        config = (step.params or {}).get("config")
        if isinstance(config, dict):
            found.update({k: v for k, v in config.items() if k in RUN_FIELDS})
    found.update({k: v for k, v in (log.eval.metadata or {}).items() if k in RUN_FIELDS})
    if "judge_model" not in found and found.get("style_judge_model"):
        found["judge_model"] = found["style_judge_model"]
    return found


def _result(sample, where: str) -> tuple[dict | None, str | None]:
    row = (sample.store or {}).get(RESULT_STORE_KEY)
    if row is None and sample.error is not None:
        meta = sample.metadata or {}
        failed = {"axis": meta.get("axis"), "template": meta.get("template"), "prompt": _text(sample.input),
                  "row": meta.get("row_i"), "error": sample.error.message or "failed"}
        if isinstance(meta.get("row"), dict) and meta["row"].get("id") is not None:
            failed["scenario_id"] = str(meta["row"]["id"])
        return failed, None
    if not isinstance(row, dict):
        return None, (f"{where}: store[{RESULT_STORE_KEY!r}] is missing or not an object (a sample of "
                      f"{TASK} keeps its pair's row there)")
    score = next(iter((sample.scores or {}).values()), None)
    value = getattr(score, "value", None)
    if value is not None and row.get("overall_score") is not None and isinstance(value, (int, float)) \
            and not isinstance(value, bool) and not math.isclose(float(value), float(row["overall_score"]), abs_tol=1e-6):
        return None, (f"{where}: the scorer's value {value} is not the row's overall_score {row['overall_score']} "
                      f"(the log disagrees with itself)")
    return row, None


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value:   # a list of chat messages: the last user text
        return getattr(value[-1], "text", None)
    return None


def _model_calls(log, sample) -> list[dict]:
    """raw.api_calls rows (without pair, measurement and load) of every model call the sample recorded."""
    rows = []
    for index, event in enumerate(sample.events or []):
        if getattr(event, "event", None) != "model":
            continue
        output, call = event.output, event.call
        written = (event.metadata or {}).get(CALL_METADATA_KEY)
        written = written if isinstance(written, dict) else {}
        request = call.request if call is not None else {
            "model": event.model, "messages": [m.model_dump(mode="json", exclude_none=True) for m in event.input],
            "config": event.config.model_dump(mode="json", exclude_none=True)}
        response = call.response if call is not None and call.response is not None else (
            output.model_dump(mode="json", exclude_none=True) if output is not None else None)
        usage = output.usage if output is not None else None
        key = json.dumps([log.eval.eval_id, str(sample.id), sample.epoch, event.uuid or index])
        rows.append({
            "cache_key": "inspect:" + hashlib.sha256(key.encode()).hexdigest(),
            "base_url": _text_or(written.get("base_url"), log.eval.model_base_url or "inspect"),
            "model": event.model,
            "request": json.dumps(redact_value(request), default=str),
            "response": None if response is None else json.dumps(redact_value(response), default=str),
            "content": redact(output.completion) if output is not None and output.choices else None,
            "finish_reason": _finish_reason(call, output),
            "prompt_tokens": usage.input_tokens if usage else None,
            "completion_tokens": usage.output_tokens if usage else None,
            "cost": usage.total_cost if usage else None,
            "attempts": (event.retries or 0) + 1,
            "latency_s": event.working_time,
            "created_at": event.timestamp.replace(tzinfo=None) if event.timestamp else None,
            # what psw recorded the call for (a log psw wrote), else the model role upstream's task gave
            # the call: its generator, else one of its judges
            "purpose": _text_or(written.get("purpose"),
                                "generation" if event.role == "generator" else f"judge:{event.role or 'model'}"),
        })
    return rows


def _text_or(value, default: str) -> str:
    return value if isinstance(value, str) and value else default


def _finish_reason(call, output) -> str | None:
    """The API's own finish_reason where the raw response records it (as collect stores it), else
    Inspect's stop reason."""
    response = call.response if call is not None else None
    choices = response.get("choices") if isinstance(response, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict) \
            and isinstance(choices[0].get("finish_reason"), str):
        return choices[0]["finish_reason"]
    return output.choices[0].stop_reason if output is not None and output.choices else None


def name_samples(rejects: list[Reject], run: InspectRun) -> list[Reject]:
    """An Inspect log's rejects name the sample, not the artifact position it was read into."""
    out = []
    for reject in rejects:
        head, sep, rest = reject.reason.partition("]")
        if head.startswith("results[") and sep and head[8:].isdigit():
            reject = Reject(reject.line_no, run.sample_ids[int(head[8:])] + rest, reject.excerpt)
        out.append(reject)
    return out


def api_call_rows(run: InspectRun, pairs: list[dict], measurement_id: str, load_id: str, loaded_at) -> list[dict]:
    """The model calls each sample recorded, as raw.api_calls provenance of its pair."""
    pair_of = {p["where"]: p["pair_id"] for p in pairs}
    return [{**call, "created_at": call["created_at"] or loaded_at, "pair_id": pair_of.get(f"results[{i}]"),
             "measurement_id": measurement_id, "load_id": load_id}
            for i, calls in enumerate(run.calls) for call in calls]
