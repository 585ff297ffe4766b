"""Upstream's other published shapes (issue 24 parts 2-4): stats CSVs, the model matrix, selections.

One warehouse for the module: the reference pilot with its stats as upstream's CSVs too, a
hand-written model matrix (three generators' stats files and the two summaries, .jsonl and
.csv) and a selection with its summary; one build. Bad files in each shape are refused with
one file:line reason and nothing loaded.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from psw.cli import main
from tests.core import upstream_shapes as shapes
from tests.conftest import PILOT_FILES, REFERENCE
from warehouse.keys import record_id_sql

PAIR_STATS = REFERENCE / "v2_pilot_seed23_template_pair_stats.jsonl"
TEMPLATE_STATS = REFERENCE / "v2_pilot_seed23_template_stats.jsonl"
JSONL_ID = record_id_sql("'v2_pilot_seed23'", "record")


def _csv_twin(jsonl, folder):
    rows = [json.loads(line) for line in jsonl.open()]
    return shapes.write_stats_csv(folder / (jsonl.stem + ".csv"), rows)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("upstream")
    db = root / "warehouse.duckdb"
    csvs = [_csv_twin(PAIR_STATS, root), _csv_twin(TEMPLATE_STATS, root)]
    matrix = shapes.model_matrix(root)
    chosen = shapes.selection(root)
    described = shapes.write_jsonl(root / "scenarios_described.jsonl", [
        {"id": "dilemma_1", "prompt": "Your friend asks you to cover for them.", "source": "daily_dilemmas",
         "config": "scenarios_daily_dilemmas", "axes": ["honesty", "loyalty"], "foundation": "loyalty",
         "pov": "second_person", "frame": "advice", "self_contained": True}])
    files = [*PILOT_FILES, *csvs, *matrix["stats"], *matrix["summaries"], *chosen, described]
    assert main(["--db", str(db), "ingest", *map(str, files)]) == 0
    assert main(["--db", str(db), "build"]) == 0
    return db, csvs


def rows(db, sql, params=()):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def test_stats_csvs_load_typed_as_their_jsonl_twins_and_reproduce_on_the_pilot(built):
    db, csvs = built
    # the CSV rows are the .jsonl records, value for value: the same record ids (they hash the parsed
    # record), so loading the .jsonl after the CSV adds nothing
    csv_ids = rows(db, "select distinct record_id from raw.published_stats join raw.loads using (load_id) "
                       "where source_path like '%v2_pilot_seed23%.csv' order by 1")
    jsonl = [json.loads(line) for path in (PAIR_STATS, TEMPLATE_STATS) for line in path.open()]
    with duckdb.connect() as con:
        con.execute("create table given (record json)")
        con.executemany("insert into given values (?)", [[json.dumps(r)] for r in jsonl])
        jsonl_ids = con.execute(f"select distinct {JSONL_ID} from given order by 1").fetchall()
    assert len(csv_ids) == 20 and csv_ids == jsonl_ids
    assert rows(db, "select count(*) from published_comparison where measurement_id = 'v2_pilot_seed23' "
                    "and status = 'differs'") == [(0,)]
    assert rows(db, "select count(*) from published_comparison where measurement_id = 'v2_pilot_seed23' "
                    "and status = 'match' and level = 'template_pair'")[0][0] >= 16 * 20


def test_a_stats_csv_is_detected_by_its_header_and_as_given_kind(psw, tmp_path):
    path = _csv_twin(PAIR_STATS, tmp_path)
    rc, out, err = psw("ingest", path, "--measurement", "m")
    assert rc == 0 and "loaded 16 stats records (16 new) into measurement m" in out, err
    rc, out, err = psw("ingest", path, "--kind", "stats", "--measurement", "m2")
    assert rc == 0 and "loaded 16 stats records" in out, err
    with duckdb.connect(str(psw.db), read_only=True) as con:
        typed = con.execute("select json_type(record -> 'strict_pass_persona_pairs'), json_type(record -> 'n'), "
                            "json_type(record -> 'recommended') from raw.published_stats limit 1").fetchone()
    assert typed == ("ARRAY", "UBIGINT", "BOOLEAN")


def test_the_model_matrix_loads_per_generator_and_reproduces_upstreams_summaries(built):
    db, _ = built
    assert rows(db, "select distinct measurement_id, generator_model from raw.published_stats "
                    "where generator_model is not null order by 1") == [
        (f"{shapes.RUN}_{model}", model) for model in sorted(shapes.GENERATORS)]
    assert rows(db, "select level, count(*) from raw.published_stats where measurement_id = ? group by 1 order by 1",
                [shapes.RUN]) == [("template_model", 4), ("template_pair_model", 8)]
    # no pairs for these generators: the matrix is computed from their published cells
    assert rows(db, "select basis, model_count, count(*) from template_model_scores group by all") == [
        ("published", 3, 2)]
    assert rows(db, "select basis, count(*) from template_pair_model_scores group by all") == [("published", 4)]
    statuses = dict(rows(db, "select status, count(*) from published_comparison where level like '%model' "
                             "group by all"))
    # every column of every summary row (the .csv rows are the .jsonl records: held once)
    assert statuses == {"match": (2 + 4) * 16}
    # the per-generator cells are inputs, not missing cells
    assert rows(db, "select distinct status from published_comparison where measurement_id like ? "
                    "and level = 'template_pair'", [f"{shapes.RUN}_%"]) == [("not_measured",)]


def test_a_selection_loads_as_its_own_kind_and_its_summary_counts_are_checked(built):
    db, _ = built
    assert rows(db, "select count(*) from raw.scenarios where scenario_id like 'src_%'") == [(0,)]
    assert rows(db, "select count(*), count(distinct template_id), any_value(persona_pair_id) from selections") == [
        (3, 1, "honest_deceptive")]
    assert rows(db, "select statistic, scenario_source, status from selection_comparison "
                    "where status <> 'not_derivable' order by all") == [
        ("n_selected", None, "match"), ("source_counts", "src_a", "match"), ("source_counts", "src_b", "match")]
    assert rows(db, "select count(*) from selection_comparison where statistic like 'stage_%'") == [(5,)]


def test_a_selection_does_not_rewrite_the_scenarios_it_names(psw, tmp_path):
    scenarios = shapes.write_jsonl(tmp_path / "scenarios.jsonl",
                                   [{"id": row["id"], "prompt": row["prompt"], "source": "mine"}
                                    for row in shapes.SELECTED])
    pool, summary = shapes.selection(tmp_path)
    for path in (scenarios, pool, summary):
        assert psw("ingest", path)[0] == 0
    with duckdb.connect(str(psw.db), read_only=True) as con:
        sources = con.execute("select distinct record ->> 'source' from raw.scenarios").fetchall()
        kinds = con.execute("select kind, count(*) from raw.loads group by all order by all").fetchall()
    assert sources == [("mine",)] and kinds == [("scenarios", 1), ("selection", 2)]


BAD = {
    "stats_cells.csv": ("template,n,mean_axis_delta\nYou are {persona}.,4,2.5\nA {persona} one,4\n",
                        ":3: 2 cells, but the header names 3 columns"),
    "stats_json.csv": ('template,n,strict_pass_persona_pairs\n"Be\n{persona}.",4,"[""a"", "\n',
                       ":2: field strict_pass_persona_pairs: a list or object cell that is not valid JSON"),
    "stats_header.csv": ("template,n,n\nYou are {persona}.,4,4\n", ":1: CSV header: column n appears twice"),
    "stats_type.csv": ("template,n,mean_axis_delta\nYou are {persona}.,four,2\n", ":2: field n: expected an integer"),
    "pool.jsonl": ('{"id": "a", "prompt": "p", "selection_score": 1.0}\n{"id": "b", "prompt": "q"}\n',
                   ":2: missing required field selection_score"),
    "pool_summary.json": ('{\n  "axis": "x",\n  "n_selected": "three"\n}\n',
                          ":3: field n_selected: expected a count"),
    "other_summary.json": ('{\n  "n_selected": 2,\n  "source_counts": 7\n}\n', ":3: field source_counts"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_in_each_new_shape_are_refused_with_file_and_line(psw, tmp_path, name):
    text, expected = BAD[name]
    path = tmp_path / name
    path.write_text(text)
    kind = ["--kind", "selection"] if "pool" in name or "summary" in name else ["--kind", "stats"]
    rc, out, err = psw("ingest", path, *kind)
    assert rc != 0
    assert f"{path}{expected}" in err, err
    assert "Traceback" not in err
    with duckdb.connect(str(psw.db), read_only=True) as con:
        assert con.execute("select count(*) from raw.published_stats").fetchone()[0] == 0
        assert con.execute("select count(*) from raw.selections").fetchone()[0] == 0


def test_scenario_metadata_are_columns_of_the_scenarios_and_examples_marts(built):
    db, _ = built
    assert rows(db, "select scenario_source, scenario_config, scenario_axes, scenario_foundation, scenario_pov, "
                    "scenario_frame, is_self_contained, n_pairs from scenarios where scenario_id = 'dilemma_1'") == [
        ("daily_dilemmas", "scenarios_daily_dilemmas", ["honesty", "loyalty"], "loyalty", "second_person", "advice",
         True, 0)]
    # the pilot's v2 export names no scenario id: its pairs find their scenario by text
    assert rows(db, "select scenario_source, scenario_config, count(*) from examples "
                    "where measurement_id = 'v2_pilot_seed23' group by all") == [("synthetic", "v2_candidate", 64)]
    assert rows(db, "select sum(n_pairs) from scenarios") == [(64,)]
