"""One record in, one record out: pair identity, duplicates, lossless measurement ids, forget."""

from __future__ import annotations

import json

import duckdb
import pytest

from tests.conftest import REFERENCE
from warehouse.keys import canonical_record_sql, pair_id, pair_id_sql, record_id_sql

EXAMPLES = [json.loads(line) for line in (REFERENCE / "v2_pilot_seed23_examples.jsonl").open()]


def write(path, records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def count(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_python_and_sql_pair_keys_agree():
    con = duckdb.connect()
    expr = pair_id_sql("?", "?", "?", "?", "?::integer", "?", "?", "?::integer")
    for args in [("m", "t {persona}", "p", "scénario", 0, None, None, None),
                 ("m", "t", "p", "s", 3, "sc_1", "out/run_a.json", 7), ("m", "t", "p", "s", 0, None, "run", None)]:
        by_sql = con.execute(f"select {expr}", list(args)).fetchone()[0]
        assert by_sql == pair_id(*args[:5], scenario_id=args[5], source_run=args[6], row_idx=args[7])


# records whose canonical text could be spelled two ways: number forms, escapes, astral characters,
# nesting, nulls, big integers, an empty object
ODD_RECORDS = ['{"a": 1e400}', '{"a": 1.0, "b": 1.5e-300, "c": 123456789012345678901234567890, "d": -0.0}',
               '{"x": "\\u00e9\\ud83d\\ude00\\n\\t\\"/", "y": {"z": [1, {"q": null}]}}', '{"s": "</script>", "t": "\\u0000"}',
               '{"k": 9007199254740993, "l": 18446744073709551616}', '{"a": 1E5, "b": 1e-7, "c": 2.50}', '{}',
               json.dumps(EXAMPLES[0])]


@pytest.mark.parametrize("measurement", ["v2_pilot_seed23", 'a "quoted" é/id', None])
def test_a_record_id_encodes_measurement_and_canonical_record_as_one_json_object(measurement):
    """record_id_sql writes the encoded object's text by concatenation: it must be byte for byte
    the JSON object DuckDB writes for the same two members (the ids of every stored record)."""
    con = duckdb.connect()
    as_object = (f"md5(to_json(struct_pack(m := ($1)::varchar, r := {canonical_record_sql('$2::varchar')}::json)))")
    for record in ODD_RECORDS:
        by_concat, by_object = con.execute(f"select {record_id_sql('$1', '$2::varchar')}, {as_object}",
                                           [measurement, record]).fetchone()
        assert by_concat == by_object, record


def test_a_pooled_export_keeps_every_record_of_every_run(psw, tmp_path):
    # two runs of the same cells: same template, persona pair and scenario, told apart only by
    # `artifact` and `row` (upstream's pooled export has no `sample`)
    run_a = [{**r, "artifact": "out/run_a.json"} for r in EXAMPLES[:20]]
    run_b = [{**r, "artifact": "out/run_b.json"} for r in EXAMPLES[:20]]
    path = write(tmp_path / "pooled_examples.jsonl", run_a + run_b)
    rc, out, err = psw("ingest", path)
    assert rc == 0, err
    assert psw("build")[0] == 0
    assert count(psw.db, "select count(*) from examples") == [(40,)]
    n_per_cell = count(psw.db, "select sum(n_planned) from template_pair_scores")
    assert n_per_cell == [(40,)]


def test_scenario_id_distinguishes_records_with_the_same_text(psw, tmp_path):
    base = {k: v for k, v in EXAMPLES[0].items() if k not in ("artifact", "row")}
    path = write(tmp_path / "ids_examples.jsonl", [{**base, "scenario_id": "a"}, {**base, "scenario_id": "b"}])
    assert psw("ingest", path)[0] == 0
    assert count(psw.db, "select count(distinct pair_id) from raw.exported_pairs") == [(2,)]


def test_exact_duplicates_load_once_and_are_counted(psw, tmp_path):
    path = write(tmp_path / "dup_examples.jsonl", [EXAMPLES[0], EXAMPLES[1], EXAMPLES[0], EXAMPLES[0]])
    rc, out, _ = psw("ingest", path)
    assert rc == 0
    assert "2 record(s) repeating an earlier one exactly were stored once (first: line 3)" in out
    assert count(psw.db, "select count(*) from raw.exported_pairs") == [(2,)]


def test_two_different_records_with_one_key_are_refused_naming_both_lines(psw, tmp_path):
    changed = {**EXAMPLES[0], "axis_delta": EXAMPLES[0]["axis_delta"] - 1}
    path = write(tmp_path / "clash_examples.jsonl", [EXAMPLES[0], EXAMPLES[1], changed])
    rc, _, err = psw("ingest", path)
    assert rc == 2
    assert f"{path}:3: same pair as line 1" in err
    assert count(psw.db, "select count(*) from raw.exported_pairs") == [(0,)]


def test_a_different_record_for_a_pair_already_loaded_is_refused_until_forgotten(psw, tmp_path):
    first = write(tmp_path / "run_examples.jsonl", EXAMPLES[:3])
    rc, out, _ = psw("ingest", first)
    assert rc == 0
    changed = write(tmp_path / "run_examples.jsonl.v2", [{**EXAMPLES[0], "off_axis_problem": 5}])
    rc, _, err = psw("ingest", changed, "--measurement", "run")
    assert rc == 2 and "already holds this pair with different content" in err and "psw forget --load" in err
    load = out.split("[load ")[1].split("]")[0]
    rc, out, _ = psw("forget", "--load", load)
    assert rc == 0 and "4 rows removed" in out  # 3 pairs and the measurement's metadata row
    assert psw("ingest", changed, "--measurement", "run")[0] == 0


def test_measurement_ids_from_file_names_are_lossless(psw, tmp_path):
    a = write(tmp_path / "run a_examples.jsonl", EXAMPLES[:2])
    b = write(tmp_path / "run_a_examples.jsonl", EXAMPLES[2:4])
    c = write(tmp_path / "café_examples.jsonl", EXAMPLES[:1])
    d = write(tmp_path / "cafè_examples.jsonl", EXAMPLES[:1])
    assert psw("ingest", a, b, c, d)[0] == 0
    assert set(count(psw.db, "select measurement_id, count(*) from raw.exported_pairs group by all")) == {
        ("café", 1), ("cafè", 1), ("run a", 2), ("run_a", 2)}


def test_forget_a_measurement_then_build_drops_its_cells(psw, tmp_path):
    keep = write(tmp_path / "keep_examples.jsonl", EXAMPLES[:8])
    drop = write(tmp_path / "drop_examples.jsonl", EXAMPLES[8:16])
    assert psw("ingest", keep, drop)[0] == 0
    assert psw("build")[0] == 0
    assert count(psw.db, "select distinct measurement_id from template_pair_scores order by 1") == [("drop",), ("keep",)]
    rc, out, _ = psw("forget", "--measurement", "drop")
    assert rc == 0 and "9 rows removed" in out  # 8 pairs and the measurement's metadata row
    assert psw("build")[0] == 0
    assert count(psw.db, "select distinct measurement_id from template_pair_scores") == [("keep",)]
    assert count(psw.db, "select distinct measurement_id from examples") == [("keep",)]
    assert count(psw.db, "select count(*) from raw.forgets") == [(1,)]
    assert count(psw.db, "select count(*) from raw.loads where forgotten_at is not null") == [(1,)]
    # loading it again brings it back
    assert psw("ingest", drop)[0] == 0 and psw("build")[0] == 0
    assert count(psw.db, "select count(distinct measurement_id) from template_pair_scores") == [(2,)]


def test_forget_refuses_an_unknown_load(psw):
    rc, _, err = psw("forget", "--load", "nope")
    assert rc == 2 and err.startswith("error: --load nope: no such load")


def test_empty_error_string_is_a_success_that_needs_its_metrics(psw, tmp_path):
    record = {k: v for k, v in EXAMPLES[0].items() if k != "axis_delta"}
    path = write(tmp_path / "noerr_examples.jsonl", [{**record, "error": ""}])
    rc, _, err = psw("ingest", path)
    assert rc == 2 and f"{path}:1: missing required field axis_delta" in err


def test_a_bom_prefixed_examples_file_is_detected_and_loads(psw, tmp_path):
    path = tmp_path / "bom_examples.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r) + "\n" for r in EXAMPLES[:10]).encode())
    rc, out, err = psw("ingest", path)
    assert rc == 0, err
    assert "loaded 10 examples records" in out


def test_a_json_array_is_refused_with_a_clear_message(psw, tmp_path):
    path = tmp_path / "array.jsonl"
    path.write_text(json.dumps(["Be a {persona} person.", "Act as a {persona}."]) + "\n")
    rc, _, err = psw("ingest", path)
    assert rc == 2 and f"{path}:1: a JSON array" in err
    assert count(psw.db, "select count(*) from raw.templates") == [(0,)]


def test_template_comments_are_reported_and_hash_templates_with_a_slot_load(psw, tmp_path):
    path = tmp_path / "templates.txt"
    path.write_text("# my templates\n## {persona}\\nRespond from this persona.\nBe a {persona} person.\n"
                    "__verbatim_skill_persona__\n")
    rc, out, err = psw("ingest", path, "--kind", "templates")
    assert rc == 0, err
    assert "1 comment line(s) starting with # skipped (first: line 1)" in out
    assert sorted(r[0] for r in count(psw.db, "select template_text from raw.templates")) == [
        "## {persona}\\nRespond from this persona.", "Be a {persona} person.", "__verbatim_skill_persona__"]


def test_a_file_changed_while_loading_loads_nothing(psw, tmp_path, monkeypatch):
    from ingest import read

    path = write(tmp_path / "moving_examples.jsonl", EXAMPLES[:5])
    monkeypatch.setattr(read, "unchanged", lambda scan: False)
    rc, _, err = psw("ingest", path)
    assert rc == 2 and "changed while it was being loaded" in err
    assert count(psw.db, "select count(*) from raw.exported_pairs") == [(0,)]
    monkeypatch.undo()
    assert psw("ingest", path)[0] == 0  # not recorded as loaded


@pytest.mark.parametrize("value", ["first", -1, 1.5, True])
def test_a_bad_sample_or_row_is_a_line_error(psw, tmp_path, value):
    path = write(tmp_path / "sample_examples.jsonl", [EXAMPLES[0], {**EXAMPLES[1], "sample": value}])
    rc, _, err = psw("ingest", path)
    assert rc == 2 and f"{path}:2: field sample: expected an integer" in err


def test_deeply_nested_json_is_an_error_not_a_traceback(psw, tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    rc, _, err = psw("ingest", path)
    assert rc == 2 and "Traceback" not in err and err.startswith("error:")
    art = tmp_path / "deep_artifact.json"
    art.write_text('{"results": [' + "[" * 100_000 + "]" * 100_000 + "]}")
    rc, _, err = psw("ingest", art, "--kind", "artifact")
    assert rc == 2 and "Traceback" not in err


def test_runs_counts_an_ingested_examples_measurement(pilot_copy, capsys):
    from psw.cli import main

    capsys.readouterr()
    assert main(["--db", str(pilot_copy), "runs", "--json"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["measurement_id"] == "v2_pilot_seed23" and row["source_format"] == "examples_v2"
    assert (row["n_cells"], row["n_pairs"], row["n_successful_pairs"], row["n_error_pairs"]) == (16, 64, 59, 5)


def demo_artifact():
    from tests.conftest import ROOT

    return json.loads((ROOT / "data" / "demo" / "demo_run_artifact.json").read_text())


def test_a_repeated_artifact_result_loads_once_and_a_different_one_is_refused(psw, tmp_path):
    doc = demo_artifact()
    first = doc["results"][0]
    doc["results"].append(first)
    path = tmp_path / "repeat_artifact.json"
    path.write_text(json.dumps(doc))
    rc, out, err = psw("ingest", path)
    assert rc == 0, err
    assert f"1 record(s) repeating an earlier one exactly were stored once (first: results[{len(doc['results']) - 1}])" in out
    assert psw("build")[0] == 0  # the build's key tests hold
    doc["results"][-1] = {**first, "pos_response": first["pos_response"] + " (regenerated)"}
    path = tmp_path / "clash_artifact.json"
    path.write_text(json.dumps(doc))
    rc, _, err = psw("ingest", path)
    assert rc == 2 and f"results[{len(doc['results']) - 1}]: same pair as results[0]" in err


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinity_in_an_artifact_is_a_clear_error(psw, tmp_path, constant):
    text = json.dumps(demo_artifact()).replace('"off_axis_problem_likert": 1', f'"off_axis_problem_likert": {constant}', 1)
    assert constant in text
    path = tmp_path / "nan_artifact.json"
    path.write_text(text)
    rc, _, err = psw("ingest", path)
    assert rc == 2 and f"{constant} is not a JSON number" in err and "Traceback" not in err
