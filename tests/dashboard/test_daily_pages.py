"""What a researcher reads on the dashboard: factor bars, the score heatmap, labels instead of ids,
empty states that say what to run, descriptions on column headers, and the Compare page."""

from __future__ import annotations

import json
import shutil

import duckdb
import pyarrow as pa
import pytest

from dashboard_helpers import query
from psw.cli import main
from tests.conftest import PILOT_META, REFERENCE, ROOT

TOP_TEMPLATE = "You are a {persona} person thinking through the situation."


def column_config(at, index: int = 0) -> dict:
    return json.loads(at.dataframe[index].proto.columns)


def charts(at) -> list:
    return at.get("vega_lite_chart")


def test_cells_shows_the_factors_as_a_bar_per_row_and_a_compact_set_of_columns(app, pilot_db):
    at = app(pilot_db)
    table = at.dataframe[0]
    order = list(table.proto.column_order)
    assert order[:6] == ["score", "p_top_k", "factors", "template_text", "persona_pair_id", "measurement_id"]
    assert "cell_id" not in order and len(order) <= 20  # with p_top_k and recommended_confident
    config = column_config(at)
    assert config["factors"]["type_config"] == {"type": "bar_chart", "y_min": 0.0, "y_max": 1.0}
    factors = table.value["factors"].iloc[0]
    top = query(pilot_db, "select factor_strict_pass, factor_axis, factor_off_axis, factor_style, factor_echo, "
                          "factor_refusal from template_pair_scores order by score desc limit 1")[0]
    assert list(factors) == pytest.approx(list(top))
    at.toggle(key="cells_every_column").set_value(True).run()
    assert len(at.dataframe[0].proto.column_order) >= 50 and at.query_params["columns"] == "all"


def test_column_headers_carry_the_dbt_description(app, pilot_db):
    config = column_config(app(pilot_db))
    assert config["score"]["help"].startswith("The guide's clean-axis score")
    assert config["mean_axis_delta"]["help"] and "six score factors" in config["factors"]["help"]
    at = app(pilot_db, "views/templates.py")
    assert column_config(at)["mean_score"]["help"]
    at = app(pilot_db, "views/persona_pairs.py")
    assert column_config(at)["proof_grade"]["help"]


def test_cells_heatmap_of_scores_opens_a_cell(app, pilot_db, top_cell):
    at = app(pilot_db)
    (heatmap,) = [c for c in charts(at) if '"rect"' in c.proto.spec]
    squares, labels = json.loads(heatmap.proto.spec)["layer"]  # coloured squares, the score written on each
    assert squares["encoding"]["x"]["field"] == "persona_pair_id"
    assert squares["encoding"]["y"]["field"] == "template_text" and squares["encoding"]["color"]["field"] == "score"
    assert labels["encoding"]["text"]["field"] == "score"
    at.session_state["cells_heatmap"] = {"selection": {"cell": [{"cell_id": top_cell}]}}
    at.run()
    assert at.title[0].value == "Score 36.6"


def test_cell_page_labels_components_with_their_description(app, pilot_db, top_cell):
    at = app(pilot_db, "views/cell.py", cell=top_cell)
    assert all(metric.help for metric in at.metric)
    every = at.dataframe[0].value
    assert every.loc["factor_axis", "description"].startswith("Score factor")


def test_steering_labels_cells_and_says_how_to_get_trait_scores(app, pilot_copy, top_cell):
    other = query(pilot_copy, "select cell_id from template_pair_scores order by score desc limit 1 offset 1")[0][0]
    con = duckdb.connect(str(pilot_copy))
    con.execute("insert into steering_summary (steering_setting_id, vector_id, cell_id, layer, positions, coeff, "
                "n_generations, mean_projection) values ('s', 'v', ?, 1, 'response', 2, 3, 1.5)", [top_cell])
    con.execute("insert into trait_geometry (geometry_id, cell_id_a, cell_id_b, layer, reduction, cosine) "
                "values ('g1', ?, ?, 1, 'response_mean', 0.3), ('g2', ?, ?, 1, 'response_mean', 0.3)",
                [top_cell, other, other, top_cell])
    con.close()
    at = app(pilot_copy, "views/steering.py")
    infos = [i.value for i in at.info]
    assert any("No judged trait scores" in i and "--judge MODEL" in i for i in infos)
    assert any(f"psw extract project --cell {top_cell}" in i for i in infos)
    (heatmap,) = [c for c in charts(at) if '"rect"' in c.proto.spec]
    values = pa.ipc.open_stream(heatmap.proto.datasets[0].data.data).read_all().to_pylist()
    expected = {f"{pair} · {template}" for pair, template in query(
        pilot_copy, "select persona_pair_id, template_text from template_pair_scores where cell_id in (?, ?)",
        [top_cell, other])}
    assert {v["label_a"] for v in values} == {v["label_b"] for v in values} == expected
    assert json.loads(heatmap.proto.spec)["spec"]["encoding"]["x"]["field"] == "label_a"


@pytest.fixture(scope="module")
def two_measurements(pilot_db, tmp_path_factory):
    """The pilot plus a rerun (another generator) whose top cell lost its axis movement."""
    folder = tmp_path_factory.mktemp("rerun")
    db = folder / "warehouse.duckdb"
    shutil.copy(pilot_db, db)
    rerun = folder / "v2_pilot_rerun_examples.jsonl"
    with rerun.open("w") as out:
        for line in (REFERENCE / "v2_pilot_seed23_examples.jsonl").read_text().splitlines():
            record = json.loads(line)
            if record["template"] == TOP_TEMPLATE and record["persona_pair"] == "wellbeing_authority":
                record.update(axis_delta=0, positive_delta=0, negative_delta=0, strict_pass=False)
            out.write(json.dumps(record) + "\n")
    meta = [m if m != "qwen/qwen3.5-27b" else "other/generator" for m in PILOT_META]
    assert main(["--db", str(db), "ingest", str(rerun), *meta]) == 0
    assert main(["--db", str(db), "build", "--quiet"]) == 0
    return db


def test_compare_two_measurements_cell_by_cell(app, two_measurements):
    at = app(two_measurements, "views/compare.py", a="v2_pilot_seed23", b="v2_pilot_rerun")
    cells = at.dataframe[0].value
    assert len(cells) == 16 and {m.label: m.value for m in at.metric}["cells in both"] == "16"
    top = cells.iloc[0]
    assert (top["persona_pair_id"], top["template_text"]) == ("wellbeing_authority", TOP_TEMPLATE)
    assert (top["score_a"], top["score_b"], top["score_change"]) == (36.6, 0.0, -36.6)
    assert top["what_changed"] in {"strict pass rate", "axis: mean delta / 8"}
    assert (cells["score_change"].iloc[1:] == 0).all() and cells["what_changed"].iloc[1:].isna().all()
    moved = at.dataframe[1].value
    assert moved["persona_pair_id"].iloc[0] == "wellbeing_authority" and moved["mean_change"].iloc[0] < 0
    at.session_state["compare_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    pairs = at.dataframe[2].value
    assert len(pairs) == 4 and (pairs["axis_delta_b"] == 0).all() and (pairs["axis_delta_change"] < 0).any()
    assert len(at.get("page_link")) == 2


def test_compare_by_generator_model(app, two_measurements):
    at = app(two_measurements, "views/compare.py", by="generator", a="qwen/qwen3.5-27b", b="other/generator")
    assert at.radio(key="compare_by").value == "generator"
    assert at.dataframe[0].value["score_change"].iloc[0] == -36.6


def test_compare_with_one_measurement_says_what_to_run(app, pilot_db):
    at = app(pilot_db, "views/compare.py")
    assert "nothing to compare yet" in at.info[0].value and "psw build" in at.info[0].value


def test_the_synthetic_demo_is_labelled_on_every_page(app, pilot_db, tmp_path):
    demo = ROOT / "data" / "demo"
    db = tmp_path / "demo.duckdb"
    assert main(["--db", str(db), "ingest", *(str(demo / f) for f in ("persona_pairs.jsonl", "templates.txt",
                 "scenarios.jsonl", "demo_run_artifact.json"))]) == 0
    assert main(["--db", str(db), "build", "--quiet"]) == 0
    for page in (None, "views/templates.py"):
        at = app(db, page)
        assert any("DEMO data" in w.value and "synthetic" in w.value for w in at.sidebar.warning), page
    assert not app(pilot_db).sidebar.warning


def test_cells_draw_scores_with_their_bootstrap_intervals_as_error_bars(app, pilot_db, top_cell):
    at = app(pilot_db)
    (chart,) = [c for c in charts(at) if '"errorbar"' in c.proto.spec]
    spec = json.loads(chart.proto.spec)
    bars, points = spec["layer"]
    assert bars["encoding"]["x"]["field"] == "score_ci_low" and bars["encoding"]["x2"]["field"] == "score_ci_high"
    assert points["encoding"]["x"]["field"] == "score"
    rows = pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_all().to_pylist()
    top = query(pilot_db, "select cell_id, score_ci_low, score_ci_high from template_pair_scores "
                          "order by score desc, cell_id limit 1")[0]
    assert (rows[0]["cell_id"], rows[0]["score_ci_low"], rows[0]["score_ci_high"]) == top
    assert rows[0]["score_ci_low"] < rows[0]["score_ci_high"]
    at = app(pilot_db, "views/cell.py", cell=top_cell)
    assert any("bootstrap interval" in c.value for c in at.caption)


def test_a_cell_past_the_bootstrap_size_names_its_analytic_interval(app, pilot_copy, top_cell):
    """A measurement past var bootstrap_max_pairs: the Cell page says the interval is score +/- t x
    the jackknife SE (score_ci_method 'jackknife_t'), not a bootstrap, and shows no P(top k); the
    Cells page's interval chart says so too."""
    assert main(["--db", str(pilot_copy), "build", "--vars", "{bootstrap_max_pairs: 1}"]) == 0
    assert query(pilot_copy, "select score_ci_method from template_pair_scores where cell_id = ?",
                 (top_cell,))[0] == ("jackknife_t",)
    captions = [c.value for c in app(pilot_copy, "views/cell.py", cell=top_cell).caption]
    assert any("t × jackknife SE" in c and "no P(top k)" in c for c in captions), captions
    assert not any("bootstrap interval" in c for c in captions)
    cells_page = app(pilot_copy)
    assert [h.value for h in cells_page.subheader if h.value.startswith("Scores with")] == ["Scores with their intervals"]
    assert any("jackknife_t" in c.value for c in cells_page.caption)
