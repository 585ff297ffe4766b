"""Upstream's baseline-anchored protocol (issue 27): a hand-written artifact, its stats and its examples
export load with every field; dbt's anchored metrics equal hand computations (tests/anchored_fixture.py);
a judge that never commits is flagged; the guide's marts never mix in anchored scores; upstream's own
numbers are compared with ours; export-inspect writes a log that ingest reads back to the same pairs
and the same model-call provenance."""

from __future__ import annotations

import json

import duckdb
import pytest

import anchored_fixture as fx
from psw.cli import main
from tests.conftest import copy_warehouse
from test_inspect_log import good_samples, write_log
from test_v3_artifact import SPECS as V3_SPECS, result as v3_result, write_artifact as write_v3


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("anchored")
    db = folder / "warehouse.duckdb"
    fx.write(folder / "run.json")
    (folder / "run_template_pair_stats.jsonl").write_text(json.dumps(fx.stats_line()) + "\n")
    (folder / "exported_examples.jsonl").write_text(
        "".join(json.dumps(fx.example(r)) + "\n" for r in fx.artifact()["results"]))
    write_v3(folder / "guide_run.json", [v3_result(s) for s in V3_SPECS])   # a guide-protocol measurement beside it
    write_log(folder / "inspected.eval", good_samples())                   # the same run as an Inspect log
    for name in ("run.json", "run_template_pair_stats.jsonl", "exported_examples.jsonl", "guide_run.json",
                 "inspected.eval"):
        assert main(["--db", str(db), "ingest", str(folder / name)]) == 0, name
    record_calls(db)
    assert main(["--db", str(db), "build"]) == 0
    return db


# raw.api_calls rows as collect records them (collect/store.py) for two pairs of `run`, and a call that
# names no pair (a probe): written here by hand, the loopback collect is tests/collect's
CALLS = [
    dict(scenario="s1", purpose="generation_pos", finish_reason="length", prompt_tokens=31, completion_tokens=64,
         cost=0.00012, attempts=2, latency_s=1.25, content=fx.SPECS[0]["pos"], model="gen/x"),
    dict(scenario="s1", purpose="pos_base_forward", finish_reason="stop", prompt_tokens=400, completion_tokens=12,
         cost=None, attempts=1, latency_s=0.5, content='{"target_reason": "r", "A_more_target_than_B": 4.0}',
         model=fx.J1),
    dict(scenario="s2", purpose="generation_base", finish_reason="stop", prompt_tokens=None, completion_tokens=None,
         cost=None, attempts=1, latency_s=None, content=fx.SPECS[1]["base"], model="gen/x"),
    dict(scenario=None, purpose="probe", finish_reason="stop", prompt_tokens=1, completion_tokens=1, cost=0.0,
         attempts=1, latency_s=0.1, content="ok", model="gen/x"),
]


def record_calls(db) -> None:
    with duckdb.connect(str(db)) as con:
        for i, c in enumerate(CALLS):
            pair = con.execute("select pair_id from raw.pairs where measurement_id = 'run' and scenario_id = ?",
                               [c["scenario"]]).fetchone() if c["scenario"] else None
            request = {"model": c["model"], "messages": [{"role": "system", "content": "You are careful."},
                                                         {"role": "user", "content": f"question {i}"}],
                       "temperature": 0.0, "max_tokens": 64, "seed": 13}
            response = {"id": f"r{i}", "choices": [{"index": 0, "finish_reason": c["finish_reason"],
                                                    "message": {"role": "assistant", "content": c["content"]}}],
                        "usage": {"prompt_tokens": c["prompt_tokens"], "completion_tokens": c["completion_tokens"]}}
            con.execute("""insert into raw.api_calls (cache_key, base_url, model, request, response, content,
                               finish_reason, prompt_tokens, completion_tokens, cost, attempts, latency_s,
                               measurement_id, load_id, created_at, pair_id, purpose)
                           values (?, 'http://127.0.0.1:9/v1', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'run', 'collect-run', ?, ?, ?)""",
                        [f"key{i}", c["model"], json.dumps(request), json.dumps(response), c["content"],
                         c["finish_reason"], c["prompt_tokens"], c["completion_tokens"], c["cost"], c["attempts"],
                         c["latency_s"], f"2026-07-0{i + 1} 10:00:00", pair[0] if pair else None, c["purpose"]])


def rows(db, sql: str, params=None) -> list[dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        rel = con.execute(sql, params or [])
        names = [d[0] for d in rel.description]
        return [dict(zip(names, r)) for r in rel.fetchall()]


@pytest.mark.parametrize("measurement", ["run", "exported", "inspected"])
def test_anchored_pair_metrics_equal_the_hand_computation(built, measurement):
    got = {(r["template_text"], r["scenario_text"]): r for r in rows(built, """
        select anchored.*, examples.scenario_text from intermediate.int_anchored_pairs as anchored
        join examples using (pair_id) where anchored.measurement_id = ? and not anchored.is_error""", [measurement])}
    assert set(got) == set(fx.ANCHORED_EXPECTED)
    for key, want in fx.ANCHORED_EXPECTED.items():
        row = got[key]
        for ours, theirs in [("delta_pos_vs_base", "delta_pos_vs_base"), ("delta_base_vs_neg", "delta_base_vs_neg"),
                             ("axis_delta", "axis_delta"), ("min_side_delta", "min_side_delta"),
                             ("max_style_abs_delta", "max_style")]:
            assert row[ours] == pytest.approx(want[theirs], abs=1e-9), f"{key}: {ours}"
        assert row["judge_did_not_commit"] is want["judge_did_not_commit"], key
        if measurement == "exported":
            # an examples export does not say which categories the run's gate left out: the gate is
            # the confound judge's overall Likert, and the score follows from it
            assert row["off_axis_problem_likert_gate"] == row["off_axis_problem"]
            assert row["overall_score"] == pytest.approx(4 * want["min_side_delta"] - row["off_axis_problem"]
                                                         - want["max_style"] - 3 * want["judge_did_not_commit"])
            continue
        assert row["off_axis_problem_likert_gate"] == pytest.approx(want["gate"]), key
        assert row["overall_score"] == pytest.approx(want["overall_score"]), key
        assert row["is_strict_pass"] is want["strict_pass"], key
    # the never-committing judge: flagged, its 3.0 ratings move nothing, and it costs 3 points
    demo = got[(fx.PERSONA, fx.DEMO)]
    assert demo["judge_did_not_commit"] and not demo["is_strict_pass"]


def test_the_never_committing_judge_is_stored_whole_and_flagged(built):
    calls = rows(built, """select judge_model, criterion, output from raw.judgments as j join raw.pairs using (pair_id)
                           where j.measurement_id = 'run' and pairs.scenario_id = 's2' and judge_model = ?""", [fx.J1])
    assert sorted(c["criterion"] for c in calls) == sorted(fx.CRITERIA)
    for call in calls:
        obj = json.loads(call["output"])
        assert obj["A_more_target_than_B"] == 3.0 and obj["found"] is False and obj["found_rate"] == 0.0
        assert obj["n_samples"] == 2 and obj["budget"] == 64 and len(obj["samples"]) == 2
    judged = rows(built, "select * from intermediate.int_anchored_judge_axis as j join raw.pairs using (pair_id) "
                         "where pairs.measurement_id = 'run' and pairs.scenario_id = 's2' and j.judge_model = ?",
                 [fx.J1])
    assert [(r["judge_did_not_commit"], r["axis_judge_method"], r["axis_delta"]) for r in judged] == \
        [(True, "bounded_thinking", 0.0)]


def test_raw_keeps_every_field_of_the_anchored_shape(built):
    pair = rows(built, "select * from raw.pairs where measurement_id = 'run' and scenario_id = 's1'")[0]
    assert pair["base_response"] == fx.SPECS[0]["base"] and pair["base_prompt"].startswith("Scenario:")
    extra = json.loads(pair["extra"])
    for key in ("control_pair", "min_side_delta", "off_axis_problem_likert_gate", "judge_did_not_commit",
                "axis_judge_method", "overall_score", "delta_pos_vs_base", "delta_base_vs_neg", "eval_id"):
        assert key in extra, key
    assert [j["judge_model"] for j in extra["published_axis_judgments"]] == [fx.J1, fx.J2]
    assert extra["published_axis_judgments"][0]["axis_delta"] == pytest.approx(5.0)
    params = json.loads(rows(built, "select params from raw.measurements where measurement_id = 'run'")[0]["params"])
    assert params["protocol"] == "anchored" and params["exclude_confound_dims"] == fx.EXCLUDED
    for key in ("axis_delta_threshold", "min_side_threshold", "off_axis_threshold", "max_word_delta_frac",
                "generator_provider_only", "inspect_log"):
        assert key in params, key
    protocols = {r["measurement_id"]: r["protocol"] for r in
                 rows(built, "select * from intermediate.int_measurement_protocols")}
    assert protocols == {"run": "anchored", "exported": "anchored", "guide_run": "guide", "inspected": "anchored"}
    # an Inspect log's recorded model calls are the provenance of its pairs, costed like collect's
    costs = rows(built, "select n_calls, n_generation_calls from costs where grain = 'measurement' "
                        "and measurement_id = 'inspected'")
    assert costs == [{"n_calls": 2, "n_generation_calls": 2}]


def test_a_failed_anchored_pair_that_carries_numbers_builds_and_moves_no_mean(psw, tmp_path):
    """An export's failed pair is loaded whatever numbers it carries (ingest checks them on successful
    pairs only), so no guarantee may read them: it once failed every build on its gate of 9. The
    persona cell is the same as the export's without those numbers."""
    def persona_cell(records: list[dict], name: str) -> dict:
        path = tmp_path / f"{name}_examples.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        assert psw("ingest", path)[0] == 0
        rc, out, err = psw("build")
        assert rc == 0, out + err
        [cell] = rows(psw.db, "select * from template_pair_scores where measurement_id = ? and template_text = ?",
                      [name, fx.PERSONA])
        return cell

    records = [fx.example(r) for r in fx.artifact()["results"]]
    clean = persona_cell(records, "clean")
    failed = next(r for r in records if r.get("error"))
    judges = json.loads(json.dumps(records[0]["axis_judgments"]))
    for judge in judges:
        judge["pos_base_forward_judgment"]["A_more_target_than_B"] = 9.0
    failed.update(axis_judgments=judges, axis_judge_models=records[0]["axis_judge_models"], delta_pos_vs_base=5.0,
                  delta_base_vs_neg=-5.0, min_side_delta=-5.0, axis_delta=20, overall_score=40, off_axis_problem=9,
                  max_style_abs_delta=9, strict_pass=True)
    cell = persona_cell(records, "carrying")
    assert (cell["n_success"], cell["n_errors"]) == (2, 1)
    for column in fx.PERSONA_CELL:
        assert cell[column] == pytest.approx(clean[column], abs=1e-9), column
    assert cell["mean_min_side_delta"] == pytest.approx(fx.PERSONA_CELL["mean_min_side_delta"])


def test_cells_carry_the_anchored_columns_and_never_the_guides(built):
    cells = {(r["measurement_id"], r["template_text"]): r for r in rows(built, "select * from template_pair_scores")}
    persona = cells[("run", fx.PERSONA)]
    assert persona["protocol"] == "anchored"
    for column, want in fx.PERSONA_CELL.items():
        assert persona[column] == pytest.approx(want, abs=1e-9), column
    assert persona["score"] is None and persona["factor_axis"] is None and persona["score_axis_off_axis"] is None
    assert cells[("exported", fx.PERSONA)]["mean_min_side_delta"] == pytest.approx(fx.PERSONA_CELL["mean_min_side_delta"])
    guide = [c for (m, _), c in cells.items() if m == "guide_run"]
    assert guide and all(c["protocol"] == "guide" and c["score"] is not None for c in guide)
    assert all(c["mean_overall_score"] is None and c["mean_min_side_delta"] is None for c in guide)
    # the marts that rank or average scores never mix protocols: template_scores carries an anchored
    # measurement's templates by their own protocol's columns, the guide's score only on guide rows
    templates = rows(built, "select measurement_id, protocol, mean_score, mean_min_side_delta from template_scores")
    assert {(t["measurement_id"], t["protocol"]) for t in templates} == \
        {("guide_run", "guide"), ("run", "anchored"), ("exported", "anchored"), ("inspected", "anchored")}
    assert all((t["mean_score"] is None) == (t["protocol"] == "anchored") and
               (t["mean_min_side_delta"] is None) == (t["protocol"] == "guide") for t in templates)
    assert {c["protocol"] for (m, _), c in cells.items() if m == "inspected"} == {"anchored"}
    anchored_cells = {c["cell_id"] for c in cells.values() if c["protocol"] == "anchored"}
    best = rows(built, "select best_cell_id from persona_pair_review where best_cell_id is not null")
    assert best and not anchored_cells & {r["best_cell_id"] for r in best}


def test_examples_show_the_baseline_and_the_anchored_pass(built):
    got = rows(built, "select * from examples where measurement_id = 'run' and not is_error order by scenario_id")
    assert [r["base_response"] for r in got] == [s["base"] for s in fx.SPECS]
    assert all(r["protocol"] == "anchored" for r in got)
    assert [r["is_strict_pass"] for r in got] == [s["want"]["strict_pass"] for s in fx.SPECS]


def test_upstreams_numbers_are_compared_with_ours(built):
    pair_level = rows(built, "select column_name, status, published_value, our_value from published_comparison "
                             "where level = 'pair' and measurement_id = 'run'")
    differs = [(r["column_name"], r["published_value"], r["our_value"]) for r in pair_level if r["status"] == "differs"]
    assert differs == [("overall_score", -1.2, pytest.approx(-1.0))]   # the one written wrong on purpose
    assert {r["status"] for r in pair_level} == {"match", "differs"}
    stats = {r["column_name"]: r["status"] for r in rows(built, "select * from published_comparison "
                                                                "where level = 'template_pair' and measurement_id = 'run'")}
    for column in ("mean_delta_pos_vs_base", "mean_delta_base_vs_neg", "mean_min_side_delta", "mean_axis_delta",
                   "strict_pass_rate", "mean_off_axis_problem", "n"):
        assert stats[column] == "match", column


def test_export_inspect_reads_back_to_the_same_pairs(built, tmp_path, capsys):
    from inspect_ai.log import read_eval_log

    log = tmp_path / "run.eval"
    assert main(["--db", str(built), "export-inspect", "--measurement", "run", "--out", str(log)]) == 0
    opened = read_eval_log(str(log))          # Inspect's own reader opens it
    assert opened.eval.task == "persona_axis_validation" and len(opened.samples) == 4
    scores = sorted(s.scores["persona_axis_score"].value for s in opened.samples if s.scores)
    assert scores == pytest.approx(sorted(s["want"]["overall_score"] for s in fx.SPECS))
    fresh = tmp_path / "fresh.duckdb"
    assert main(["--db", str(fresh), "ingest", "--measurement", "run", str(log)]) == 0
    query = ("select pair_id, template_text, persona_pair_id, scenario_id, scenario_text, row_idx, sample_idx, "
             "pos_response, neg_response, base_response, base_prompt, pos_prompt, neg_prompt, error "
             "from raw.pairs where measurement_id = 'run' order by pair_id")
    assert rows(fresh, query) == rows(built, query)
    judged = ("select pair_id, judge_model, criterion, output::varchar as output, raw_text from raw.judgments "
              "where measurement_id = 'run' order by all")
    assert rows(fresh, judged) == rows(built, judged)
    # a guide-protocol measurement is refused in one line
    capsys.readouterr()
    assert main(["--db", str(built), "export-inspect", "--measurement", "guide_run", "--out", str(tmp_path / "g.eval")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "guide's protocol" in err and not (tmp_path / "g.eval").exists()


CALL_COLUMNS = ("base_url, model, request::varchar as request, response::varchar as response, content, finish_reason, "
                "prompt_tokens, completion_tokens, cost, attempts, latency_s, measurement_id, created_at, pair_id, purpose")


@pytest.mark.parametrize("measurement", ["run", "inspected"])
def test_export_inspect_writes_the_model_calls_that_ingest_reads_back(built, tmp_path, measurement):
    """Calls recorded at collect (`run`) or read from an Inspect log (`inspected`) become the samples'
    ModelEvents, and a fresh warehouse ingests the log back to the same raw.api_calls provenance."""
    from inspect_ai.log import read_eval_log

    log = tmp_path / f"{measurement}.eval"
    assert main(["--db", str(built), "export-inspect", "--measurement", measurement, "--out", str(log)]) == 0
    events = {s.id: [e for e in s.events if e.event == "model"] for s in read_eval_log(str(log)).samples}
    query = f"select {CALL_COLUMNS} from raw.api_calls where measurement_id = ? and pair_id is not null order by all"
    ours = rows(built, query, [measurement])
    assert ours and sum(map(len, events.values())) == len(ours)
    if measurement == "run":     # what `inspect view` shows: the messages sent, the answer, the settings
        first = next(e for e in events[ours[0]["pair_id"]] if e.output.completion == CALLS[0]["content"])
        assert [m.role for m in first.input] == ["system", "user"] and first.config.max_tokens == 64
        assert first.output.choices[0].stop_reason == "max_tokens" and first.output.usage.total_cost == 0.00012
        assert first.role == "generator" and first.retries == 1 and first.call.request["seed"] == 13
    fresh = tmp_path / "fresh.duckdb"
    assert main(["--db", str(fresh), "ingest", "--measurement", measurement, str(log)]) == 0
    back = rows(fresh, query, [measurement])
    for row in ours + back:   # JSON text compared as values
        row["request"], row["response"] = json.loads(row["request"]), json.loads(row["response"] or "null")
    assert back == ours


def test_export_inspect_writes_nothing_that_holds_a_secret(built, tmp_path, capsys):
    db = copy_warehouse(built, tmp_path / "leaky.duckdb")
    with duckdb.connect(str(db)) as con:
        con.execute("update raw.api_calls set content = 'the key is sk-' || repeat('a1', 20) "
                    "where cache_key = 'key0'")
    out = tmp_path / "run.eval"
    capsys.readouterr()
    assert main(["--db", str(db), "export-inspect", "--measurement", "run", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "run.eval sample" in err and "API key" in err
    assert "a1a1a1" not in err and not out.exists() and not list(tmp_path.glob("*.partial.eval"))


def test_the_examples_export_states_the_runs_excluded_dimensions(built, tmp_path):
    """export-stats writes an anchored run's examples in upstream's anchored keys, each row with the
    run's exclude_confound_dims from the measurements mart; ingest reads them back, so the gate of the
    re-loaded pairs leaves the same categories out."""
    assert rows(built, "select protocol, exclude_confound_dims from measurements where measurement_id = 'run'") == \
        [{"protocol": "anchored", "exclude_confound_dims": fx.EXCLUDED}]
    out = tmp_path / "stats"
    assert main(["--db", str(built), "export-stats", "--out", str(out), "--measurement", "run"]) == 0
    examples = [json.loads(line) for line in (out / "run_examples.jsonl").open()]
    assert len(examples) == 4 and all(r["exclude_confound_dims"] == fx.EXCLUDED for r in examples)
    judged = [r for r in examples if not r["error"]]
    keys = list(judged[0])
    assert "positive_delta" not in keys and keys.index("delta_pos_vs_base") < keys.index("min_side_delta") \
        < keys.index("off_axis_problem") and keys.index("neg_response") + 1 == keys.index("base_response")
    assert sorted(r["min_side_delta"] for r in judged) == sorted(s["want"]["min_side_delta"] for s in fx.SPECS)

    fresh = tmp_path / "fresh" / "warehouse.duckdb"
    assert main(["--db", str(fresh), "ingest", "--measurement", "back", str(out / "run_examples.jsonl")]) == 0
    assert main(["--db", str(fresh), "build"]) == 0
    assert rows(fresh, "select exclude_confound_dims from measurements where measurement_id = 'back'") == \
        [{"exclude_confound_dims": fx.EXCLUDED}]
    gates = {(r["template_text"], r["scenario_text"]): r["off_axis_problem_likert_gate"] for r in rows(fresh, """
        select anchored.template_text, examples.scenario_text, anchored.off_axis_problem_likert_gate
        from intermediate.int_anchored_pairs as anchored join examples using (pair_id) where not anchored.is_error""")}
    assert gates == {key: pytest.approx(want["gate"]) for key, want in fx.ANCHORED_EXPECTED.items()}


def test_export_hf_states_each_measurements_protocol_and_excluded_dimensions(built, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "hf"
    assert main(["--db", str(built), "export-hf", "--out", str(out)]) == 0
    split = {r["measurement_id"]: r for r in pq.read_table(out / "data" / "measurements.parquet").to_pylist()}
    assert (split["run"]["protocol"], split["run"]["exclude_confound_dims"]) == ("anchored", fx.EXCLUDED)
    assert (split["guide_run"]["protocol"], split["guide_run"]["exclude_confound_dims"]) == ("guide", [])
