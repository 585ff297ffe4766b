"""`psw ingest` reads upstream's Inspect logs (task persona_axis_validation) with Inspect's own reader:
samples become pairs, the model calls a sample recorded become raw.api_calls provenance, and a bad
log or a bad sample is refused in one line that names the file and the sample. Logs are built here in
code with inspect_ai's classes (no model, no network)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import duckdb
from inspect_ai.event import ModelEvent
from inspect_ai.log import EvalDataset, EvalLog, EvalPlan, EvalPlanStep, EvalSample, EvalSpec, write_eval_log
from inspect_ai.model import GenerateConfig, ModelCall, ModelOutput
from inspect_ai.scorer import Score

import anchored_fixture as fx

RUN = fx.artifact()


def sample(index: int, result: dict | None, score: float | None = None, events=()) -> EvalSample:
    store = {} if result is None else {"persona_axis_result": result}
    value = score if score is not None else (result or {}).get("overall_score")
    return EvalSample(id=f"s{index}", epoch=1, input=(result or {}).get("prompt", "x"), target="", store=store,
                      scores={} if value is None else {"persona_axis_score": Score(value=value)},
                      events=list(events))


def model_event(model: str, prompt: str, reply: str) -> ModelEvent:
    return ModelEvent(model=model, role="generator", input=[], tools=[], tool_choice="none",
                      config=GenerateConfig(temperature=0.0, seed=13), output=ModelOutput.from_content(model, reply),
                      call=ModelCall(request={"model": model, "messages": [{"role": "user", "content": prompt}]},
                                     response={"choices": [{"message": {"content": reply}}]}),
                      timestamp=datetime(2026, 7, 1, tzinfo=timezone.utc))


def write_log(path, samples, task: str = "persona_axis_validation") -> None:
    spec = EvalSpec(created="2026-07-01T00:00:00+00:00", task=task, dataset=EvalDataset(name="d"), model="openrouter/gen/x",
                    config={}, metadata={"generator_model": "gen/x", "axis_judge_models": [fx.J1, fx.J2],
                                         "style_judge_model": fx.STYLE_JUDGE, "seed": 13,
                                         "generator_provider_only": ["DeepInfra"]})
    plan = EvalPlan(steps=[EvalPlanStep(solver="persona_axis_solver", params={"config": {
        "exclude_confound_dims": fx.EXCLUDED, "min_side_threshold": 0.5, "axis_delta_threshold": 3.0,
        "off_axis_threshold": 2.0, "max_word_delta_frac": 0.0, "gen_temperature": 0.0}})])
    write_eval_log(EvalLog(status="success", eval=spec, plan=plan, samples=samples), str(path))


def good_samples() -> list[EvalSample]:
    results = RUN["results"]
    first = fx.SPECS[0]
    events = [model_event("openrouter/gen/x", "P\n\nScenario:\n" + first["prompt"], first["pos"]),
              model_event("openrouter/gen/x", "Scenario:\n" + first["prompt"], first["base"])]
    return [sample(0, results[0], events=events)] + [sample(i, r) for i, r in enumerate(results[1:], start=1)]


def test_samples_become_pairs_and_model_calls_provenance(psw, tmp_path):
    log = tmp_path / "upstream_run.eval"
    write_log(log, good_samples())
    rc, out, err = psw("ingest", log)
    assert rc == 0, err
    assert "loaded 4 inspect records" in out
    with duckdb.connect(str(psw.db), read_only=True) as con:
        pairs = con.execute("select scenario_id, base_response, error from raw.pairs order by scenario_id").fetchall()
        assert [p[0] for p in pairs] == ["hamlet", "s1", "s2", "s3"]
        assert pairs[1][1] == fx.SPECS[0]["base"] and pairs[0][2] == "ValueError: empty generation"
        calls = con.execute("""select model, content, purpose, measurement_id, pair_id, request ->> '$.messages[0].content'
                               from raw.api_calls order by content""").fetchall()
        s1 = con.execute("select pair_id from raw.pairs where scenario_id = 's1'").fetchone()[0]
        assert [(c[0], c[1], c[2], c[3], c[4]) for c in calls] == [
            ("openrouter/gen/x", fx.SPECS[0]["base"], "generation", "upstream_run", s1),
            ("openrouter/gen/x", fx.SPECS[0]["pos"], "generation", "upstream_run", s1)]
        source, params = con.execute("select source_format, params from raw.measurements").fetchone()
        params = json.loads(params)
        assert source == "inspect" and params["protocol"] == "anchored"
        assert params["exclude_confound_dims"] == fx.EXCLUDED and params["inspect_log"].endswith("upstream_run.eval")
    assert psw("ingest", log)[1].strip().endswith("nothing added")    # the same log again adds nothing


def refused(psw, path) -> str:
    rc, out, err = psw("ingest", path)
    assert rc == 2 and not out
    with duckdb.connect(str(psw.db), read_only=True) as con:
        assert con.execute("select count(*) from raw.pairs").fetchone()[0] == 0
    return err


def test_a_file_that_is_not_an_inspect_log_is_refused_in_one_line(psw, tmp_path):
    bad = tmp_path / "broken.eval"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    err = refused(psw, bad)
    assert err.startswith(f"{bad}: not a readable Inspect .eval log") and "Traceback" not in err


def test_a_log_of_another_task_is_refused(psw, tmp_path):
    log = tmp_path / "other.eval"
    write_log(log, good_samples(), task="gsm8k")
    assert "an Inspect log of task 'gsm8k', not 'persona_axis_validation'" in refused(psw, log)


def test_a_sample_without_its_row_is_named(psw, tmp_path):
    log = tmp_path / "norow.eval"
    write_log(log, good_samples()[:2] + [sample(7, None, score=1.0)])
    err = refused(psw, log)
    assert f"{log}: sample s7: store['persona_axis_result'] is missing" in err


def test_a_scorer_value_that_disagrees_with_its_row_is_named(psw, tmp_path):
    log = tmp_path / "disagree.eval"
    write_log(log, [sample(0, RUN["results"][0], score=9.0)])
    assert "sample s0: the scorer's value 9.0 is not the row's overall_score" in refused(psw, log)


def test_a_bad_anchored_row_names_the_sample_and_field(psw, tmp_path):
    row = json.loads(json.dumps(RUN["results"][1]))
    del row["axis_judgments"][0]["pos_base_reverse_judgment"]["samples"]
    log = tmp_path / "badrow.eval"
    write_log(log, [sample(0, RUN["results"][0]), sample(1, row)])
    err = refused(psw, log)
    assert "sample s1: axis_judgments[0].pos_base_reverse_judgment: missing required field samples" in err
    assert len([line for line in err.splitlines() if "sample s1" in line]) == 1
