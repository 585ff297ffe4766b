"""`psw export-selection --format upstream`: upstream's export_selections.py JSONL (its keys in its
order, the `//` provenance keys), top N by overall_score or the strict-pass top N.

The marts are written by hand here (a real DuckDB file with the anchored columns the export
reads, hf/selection_upstream.PAIR_COLUMNS / RUN_COLUMNS), so the writer is tested on its own;
the anchored marts that fill them are dbt's."""

from __future__ import annotations

import json

import duckdb
import pytest

from psw.cli import main

UPSTREAM_KEYS = [
    "id", "scenario_id", "source", "selected_family", "self_contained", "axis", "template", "prompt",
    "pos_persona", "neg_persona", "pos_response", "neg_response", "base_response", "axis_delta",
    "delta_pos_vs_base", "delta_base_vs_neg", "min_side_delta", "off_axis_problem_likert_gate",
    "max_style_abs_delta", "length_ok", "overall_score", "strict_pass",
    "//validation_input", "//axis_delta_threshold", "//min_side_threshold", "//off_axis_threshold",
    "//exclude_confound_dims", "//max_word_delta_frac", "//validator_commit", "//generator_model",
]
# pair_id, scenario_id, row, overall_score, strict_pass, min_side_delta, is_error
PAIRS = [("p1", "s1", 1, 2.5, True, 1.0, False), ("p2", "s2", 2, 4.0, False, 0.25, False),
         ("p3", "s3", 3, 2.5, True, 0.75, False), ("p4", "s4", 4, 9.0, True, 2.0, True)]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("sel") / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema staging")
    con.execute("""create table main.examples as select * from (values
        {}) as t(pair_id, scenario_id, row_idx, overall_score, is_strict_pass, min_side_delta, is_error)""".format(
        ", ".join(str(p) for p in PAIRS)).replace("True", "true").replace("False", "false"))
    con.execute("""create or replace table main.examples as select pair_id, 'm/gen' as measurement_id, scenario_id,
        row_idx, 'pp' as persona_pair_id, 'You are a {persona} person.' as template_text,
        'Scenario ' || scenario_id as scenario_text, 'You are a kind person.' as pos_persona,
        'You are a cold person.' as neg_persona, 'pos ' || pair_id as pos_response,
        'neg ' || pair_id as neg_response, 'base ' || pair_id as base_response, is_error,
        4.0 * min_side_delta as axis_delta, min_side_delta + 0.5 as delta_pos_vs_base,
        min_side_delta as delta_base_vs_neg, min_side_delta, 1.5 as off_axis_problem_likert_gate,
        0.5 as max_style_abs_delta, true as is_length_ok, overall_score, is_strict_pass from main.examples""")
    con.execute("""create table main.measurements as select 'm/gen' as measurement_id, 'gen/model' as generator_model,
        2.0 as axis_delta_threshold, 0.5 as min_side_threshold, 2.0 as off_axis_threshold,
        ['sycophancy'] as exclude_confound_dims, 0.0 as max_word_delta_frac""")
    con.execute("""create table staging.stg_raw__scenarios as select * from (values ('s1', 'src_a', true),
        ('s2', 'src_b', false), ('s3', 'src_a', false)) as t(scenario_id, scenario_source, is_self_contained)""")
    con.execute("""create table staging.stg_raw__persona_pairs as
        select 'pp' as persona_pair_id, 'kind' as pos_persona, 'cold' as neg_persona""")
    con.close()
    return path


def export(db, out, *flags):
    return main(["--db", str(db), "export-selection", "--format", "upstream", "--measurement", "m/gen",
                 "--out", str(out), *flags])


def test_top_n_by_overall_score_with_upstreams_keys(db, tmp_path):
    out = tmp_path / "sel.jsonl"
    assert export(db, out, "--top-n", "2") == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [list(r) for r in rows] == [UPSTREAM_KEYS] * 2
    # p4 failed (an error row), so p2 (4.0) then p1 (2.5, ahead of p3 by row order)
    assert [r["scenario_id"] for r in rows] == ["s2", "s1"]
    first = rows[1]
    assert (first["source"], first["self_contained"], first["axis"], first["pos_persona"], first["base_response"],
            first["min_side_delta"], first["delta_pos_vs_base"], first["axis_delta"], first["strict_pass"]) == \
        ("src_a", True, "pp", "kind", "base p1", 1.0, 1.5, 4.0, True)
    assert (first["//validation_input"], first["//min_side_threshold"], first["//exclude_confound_dims"],
            first["//generator_model"]) == ("m/gen", 0.5, ["sycophancy"], "gen/model")
    assert first["//validator_commit"].startswith("psw ")


def test_strict_only_takes_strict_pairs_and_refuses_to_pad(db, tmp_path, capsys):
    out = tmp_path / "strict.jsonl"
    assert export(db, out, "--strict-only", "--top-n", "2") == 0
    assert [json.loads(line)["scenario_id"] for line in out.read_text().splitlines()] == ["s1", "s3"]
    assert export(db, tmp_path / "three.jsonl", "--strict-only", "--top-n", "3") == 2
    assert "only 2 pairs pass strict" in capsys.readouterr().err
    assert not (tmp_path / "three.jsonl").exists()


def test_a_warehouse_without_the_anchored_columns_is_one_line(tmp_path, capsys):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table main.examples (pair_id varchar, axis_delta double, is_strict_pass boolean)")
    con.close()
    assert main(["--db", str(path), "export-selection", "--format", "upstream", "--measurement", "m",
                 "--out", str(tmp_path / "x.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "examples has no base_response" in err[0]


def test_thresholds_come_from_the_recorded_params_when_the_mart_lacks_them(db, tmp_path):
    copy = tmp_path / "w2.duckdb"
    copy.write_bytes(db.read_bytes())
    con = duckdb.connect(str(copy))
    con.execute("create or replace table main.measurements as "
                "select 'm/gen' as measurement_id, 'gen/model' as generator_model")
    con.execute("""create table staging.stg_raw__measurements as select 'm/gen' as measurement_id,
        '{"axis_delta_threshold": 2.5, "min_side_threshold": 0.25, "off_axis_threshold": 3,
          "exclude_confound_dims": ["warmth", "hedging"], "max_word_delta_frac": 0}'::json as params""")
    con.close()
    out = tmp_path / "sel.jsonl"
    assert export(copy, out, "--top-n", "1") == 0
    row = json.loads(out.read_text().splitlines()[0])
    assert (row["//axis_delta_threshold"], row["//min_side_threshold"], row["//off_axis_threshold"],
            row["//exclude_confound_dims"], row["//max_word_delta_frac"]) == (2.5, 0.25, 3.0, ["hedging", "warmth"], 0.0)
