"""`psw export-inspect`: one anchored measurement as an Inspect AI `.eval` log that `inspect view` opens.

The log has upstream's shape (validate_persona_axes.py): task `persona_axis_validation`, one
sample per pair whose `store["persona_axis_result"]` holds the pair's row (texts, the raw judge
objects, the anchored metrics) and whose score is the row's `overall_score`. Everything is read
from the built warehouse (the examples mart and the anchored models); nothing is derived here, so
`psw ingest` reads the log back to the same pairs. The model calls the measurement paid for
(raw.api_calls: recorded by collect, or read from an Inspect log) become each sample's ModelEvents,
which `inspect view` shows in the sample's transcript and ingest reads back to the same provenance
(the call's purpose and base URL ride in the event's metadata). The log passes the one secret
scanner (hf/secret_scan.py) before anything is written.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from hf.anchored_judges import CRITERIA, PER_JUDGE_SQL, axis_judgments
from hf.secret_scan import check_texts
from ingest.inspect_log import CALL_METADATA_KEY, RESULT_STORE_KEY, TASK
from warehouse.errors import UserError

SCORER = "persona_axis_score"
RUN_PARAMS = ("axis_delta_threshold", "min_side_threshold", "off_axis_threshold", "exclude_confound_dims",
              "max_word_delta_frac")


def export_inspect(db: Path, measurement_id: str, out: Path) -> str:
    if out.suffix != ".eval":
        raise UserError(f"--out {out}: an Inspect log file ends in .eval")
    if out.exists() and not out.is_file():
        raise UserError(f"--out {out}: exists and is not a file")
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        raise UserError(f"{db}: cannot open read-only ({str(exc).splitlines()[0]})") from None
    with con:
        run = _measurement(con, measurement_id, db)
        calls = _calls(con, measurement_id)
        samples = [_sample(row, calls.get(row["pair_id"], [])) for row in _rows(con, measurement_id)]
    log = _log(run, samples)
    _check_secrets(log, out)
    from inspect_ai.log import write_eval_log

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial.eval")
    write_eval_log(log, str(partial))
    partial.replace(out)
    return f"{out}: wrote {len(samples)} samples of measurement {measurement_id} as an Inspect log (inspect view {out})"


def _measurement(con, measurement_id: str, db: Path) -> dict:
    try:
        found = con.execute("""
            select m.generator_model, m.judge_models, m.temperature, m.seed, p.protocol, m.params
            from staging.stg_raw__measurements as m join intermediate.int_measurement_protocols as p using (measurement_id)
            where measurement_id = ?""", [measurement_id]).fetchall()
    except duckdb.CatalogException:
        raise UserError(f"{db}: not built yet (run `psw build` first)") from None
    if not found:
        raise UserError(f"--measurement {measurement_id}: no such measurement (psw runs lists them)")
    generator, judges, temperature, seed, protocol, params = found[0]
    if protocol != "anchored":
        raise UserError(f"--measurement {measurement_id}: measured under the guide's protocol; export-inspect "
                        f"writes upstream's anchored persona_axis_validation logs only")
    params = json.loads(params) if params else {}
    return {"measurement_id": measurement_id, "generator_model": generator, "judge_models": judges or [],
            "gen_temperature": temperature, "seed": seed, "params": params}


def _rows(con, measurement_id: str) -> list[dict]:
    rel = con.sql(f"""
        select examples.*, judges.per_judge
        from main.examples as examples
        left join ({PER_JUDGE_SQL}) as judges using (pair_id)
        where examples.measurement_id = $m
        order by examples.row_idx nulls last, examples.scenario_id, examples.template_text, examples.pair_id""",
                  params={"m": measurement_id})
    return [dict(zip(rel.columns, values)) for values in rel.fetchall()]


def _calls(con, measurement_id: str) -> dict[str, list[dict]]:
    """pair_id -> the model calls recorded for that pair (raw.api_calls), oldest first. Calls that
    name no pair (a probe, a planning call) belong to no sample and are left out."""
    rel = con.sql("""
        select * from raw.api_calls where measurement_id = $m and pair_id is not null
        order by pair_id, created_at, cache_key""", params={"m": measurement_id})
    found: dict[str, list[dict]] = {}
    for values in rel.fetchall():
        call = dict(zip(rel.columns, values))
        found.setdefault(call["pair_id"], []).append(call)
    return found


def _model_event(call: dict):
    """One recorded call as Inspect's ModelEvent: the request's messages and settings as input and
    config, the answer as output, the bodies as sent and received as the ModelCall."""
    from inspect_ai.event import ModelEvent
    from inspect_ai.model import (ChatCompletionChoice, ChatMessageAssistant, GenerateConfig, ModelCall, ModelOutput,
                                  ModelUsage)

    request = json.loads(call["request"]) if call["request"] else {}
    response = json.loads(call["response"]) if call["response"] else None
    settings = {k: request[k] for k in ("temperature", "top_p", "max_tokens", "seed")
                if isinstance(request.get(k), (int, float)) and not isinstance(request.get(k), bool)}
    usage = None
    if call["prompt_tokens"] is not None or call["completion_tokens"] is not None or call["cost"] is not None:
        usage = ModelUsage(input_tokens=call["prompt_tokens"] or 0, output_tokens=call["completion_tokens"] or 0,
                           total_tokens=(call["prompt_tokens"] or 0) + (call["completion_tokens"] or 0),
                           total_cost=call["cost"])
    choices = [] if call["content"] is None else [ChatCompletionChoice(
        message=ChatMessageAssistant(content=call["content"], model=call["model"]),
        stop_reason=STOP_REASONS.get(call["finish_reason"] or "", "unknown"))]
    purpose = call.get("purpose")
    created = call["created_at"]
    return ModelEvent(
        model=call["model"], role="generator" if (purpose or "").startswith("generation") else "judge",
        input=[_message(m) for m in request.get("messages") or [] if isinstance(m, dict)], tools=[],
        tool_choice="none", config=GenerateConfig(**settings),
        output=ModelOutput(model=call["model"], choices=choices, usage=usage),
        call=ModelCall(request=request, response=response, time=call["latency_s"]),
        retries=None if call["attempts"] is None else max(call["attempts"] - 1, 0),
        working_time=call["latency_s"], completed=created.replace(tzinfo=timezone.utc) if created else None,
        timestamp=created.replace(tzinfo=timezone.utc) if created else datetime.now(timezone.utc),
        metadata={CALL_METADATA_KEY: {"purpose": purpose, "base_url": call["base_url"]}})


# an OpenAI-style finish_reason as Inspect's stop reason (the raw one stays in the call's response)
STOP_REASONS = {"stop": "stop", "length": "max_tokens", "tool_calls": "tool_calls", "function_call": "tool_calls",
                "content_filter": "content_filter"}


def _message(message: dict):
    from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser

    content = message.get("content")
    text = content if isinstance(content, str) else json.dumps(content)
    kind = {"system": ChatMessageSystem, "assistant": ChatMessageAssistant}.get(message.get("role"), ChatMessageUser)
    return kind(content=text)


def _check_secrets(log, out: Path) -> None:
    """The one secret scanner over every text the log holds (header, plan, each sample with its
    events), one JSON line each; nothing is written when it finds one."""
    texts = {f"{out.name} (header)": log.eval.model_dump_json(), f"{out.name} (plan)": log.plan.model_dump_json()}
    texts |= {f"{out.name} sample {s.id}": s.model_dump_json() for s in log.samples}
    check_texts(texts, what="nothing written")


def _sample(row: dict, calls: list[dict] = ()):
    from inspect_ai.log import EvalSample
    from inspect_ai.scorer import Score

    result = _result(row)
    scores = {}
    if "overall_score" in result:
        scores[SCORER] = Score(value=result["overall_score"], answer="PASS" if result["strict_pass"] else "FAIL",
                               metadata={"strict_pass": result["strict_pass"], "overall_score": result["overall_score"],
                                         "axis_delta": result["axis_delta"], "min_side_delta": result["min_side_delta"]})
    return EvalSample(id=row["pair_id"], epoch=1, input=row["scenario_text"], target="",
                      metadata={"axis": result["axis"], "template": row["template_text"], "row_i": row["row_idx"]},
                      store={RESULT_STORE_KEY: result}, scores=scores,
                      events=[_model_event(call) for call in calls])


def _result(row: dict) -> dict:
    """The pair's row in upstream's shape, from the warehouse's stored values."""
    result = {"row": row["row_idx"], "scenario_id": row["scenario_id"],
              "axis": {"id": row["persona_pair_id"], "pos_descriptor": row["pos_persona"],
                       "neg_descriptor": row["neg_persona"]},
              "template": row["template_text"], "prompt": row["scenario_text"]}
    if row["sample_idx"]:
        result["sample"] = row["sample_idx"]
    if row["is_error"]:
        return result | {"error": row["error"] or "failed"}
    ratings = [r for r in (row["ratings"] or []) if r["error"] is None]
    by_call = {(r["judge_model"], r["criterion"]): r for r in ratings}
    judges = row["per_judge"] or []
    pos_label = next((r["pos_label"] for r in ratings), "A")
    style_call = next(r for r in ratings if r["criterion"] == "style")
    confound_call = next(r for r in ratings if r["criterion"] == "confound")
    result |= {
        "pos_generation_prompt": row["pos_prompt"], "neg_generation_prompt": row["neg_prompt"],
        "base_generation_prompt": row["base_prompt"],
        "pos_response": row["pos_response"], "neg_response": row["neg_response"], "base_response": row["base_response"],
        "control_pair": row["is_control_pair"] if row["is_control_pair"] is not None
        else row["pos_response"] == row["neg_response"],
        "pos_label": pos_label, "neg_label": "B" if pos_label == "A" else "A",
        "axis_judge_models": [j["judge_model"] for j in judges],
        "axis_judgments": axis_judgments(ratings, judges),
        "style_judgment": json.loads(style_call["output"]), "confound_judgment": json.loads(confound_call["output"]),
        "raw_judge_outputs": {"style": style_call["raw_text"], "confound": confound_call["raw_text"],
                              "axis": [{"judge_model": j["judge_model"],
                                        **{c: by_call[(j["judge_model"], c)]["raw_text"] for c in CRITERIA}}
                                       for j in judges]},
        "delta_pos_vs_base": row["delta_pos_vs_base"], "delta_base_vs_neg": row["delta_base_vs_neg"],
        "min_side_delta": row["min_side_delta"], "axis_delta": row["axis_delta"],
        "max_style_abs_delta": row["max_style_abs_delta"],
        "off_axis_problem_likert_gate": row["off_axis_problem_likert_gate"],
        "word_delta_frac": row["word_delta_frac"], "persona_echo": row["has_persona_echo"],
        "refusal_or_ai_break": row["has_refusal_or_ai_break"],
        "judge_did_not_commit": row["judge_did_not_commit"], "axis_judge_method": row["axis_judge_method"],
        "strict_pass": row["is_strict_pass"], "overall_score": row["overall_score"],
    }
    return result


def _log(run: dict, samples: list):
    from inspect_ai.log import (EvalConfig, EvalDataset, EvalLog, EvalMetric, EvalPlan, EvalPlanStep, EvalResults,
                                EvalScore, EvalSpec)

    params = run["params"]
    metadata = {"generator_model": run["generator_model"], "axis_judge_models": params.get("axis_judge_models")
                or run["judge_models"], "style_judge_model": params.get("style_judge_model") or params.get("judge_model"),
                "axis_judge_method": params.get("axis_judge_method"),
                "generator_provider_only": params.get("generator_provider_only") or [], "seed": run["seed"],
                "measurement_id": run["measurement_id"]}
    config = {"gen_temperature": run["gen_temperature"], **{k: params[k] for k in RUN_PARAMS if k in params}}
    scored = [s.scores[SCORER].value for s in samples if SCORER in s.scores]
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    spec = EvalSpec(eval_id=f"psw-{run['measurement_id']}", run_id=f"psw-{run['measurement_id']}", created=created,
                    task=TASK, task_id=f"psw-{run['measurement_id']}", task_version=0,
                    dataset=EvalDataset(name="persona_axis_samples", samples=len(samples),
                                        sample_ids=[s.id for s in samples]),
                    model=f"psw/{run['generator_model'] or 'unknown'}", config=EvalConfig(), metadata=metadata)
    results = EvalResults(total_samples=len(samples), completed_samples=len(samples), scores=[
        EvalScore(name=SCORER, scorer=SCORER, metrics={"mean": EvalMetric(
            name="mean", value=sum(scored) / len(scored) if scored else 0.0)})])
    return EvalLog(status="success", eval=spec, results=results, samples=samples,
                   plan=EvalPlan(steps=[EvalPlanStep(solver="persona_axis_solver", params={"config": config})]))
