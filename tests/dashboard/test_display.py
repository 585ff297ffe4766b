"""Numbers rounded for display, the control arm labelled, honest empty states (issue 25, item 7)."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa

from dashboard_helpers import query
from warehouse.labels import CONTROL_LABEL


def test_templates_round_scores_and_label_the_control_arm(app, pilot_copy):
    with duckdb.connect(str(pilot_copy)) as con:  # the pilot has no control arm: make its best template one
        (text,) = con.execute("select template_text from template_scores order by mean_score desc limit 1").fetchone()
        con.execute("update template_scores set template_text = '', mean_score = 10.575000000000001 "
                    "where template_text = ?", [text])
    at = app(pilot_copy, "views/templates.py")
    table = at.dataframe[0]
    assert CONTROL_LABEL in list(table.value["template"])
    config = json.loads(table.proto.columns)
    assert config["mean_score"]["type_config"]["format"] == "%.1f"
    links = [link.proto.label for link in at.get("page_link")]
    assert f"10.6 · {CONTROL_LABEL} · cells" in links
    assert not any("10.575" in label for label in links)


def test_the_cell_page_says_an_export_carries_metrics_not_the_judges_objects(app, pilot_db, top_cell):
    at = app(pilot_db, "views/cell.py", cell=top_cell)
    assert not any(e.label.startswith("Judge ratings (") for e in at.expander)
    captions = [c.value for c in at.caption]
    assert any("carries the per-pair metrics above, not the judges' raw rating objects" in c for c in captions)


def test_steering_leaves_out_undefined_cosines_with_a_reason_and_finds_the_intervals(app, pilot_copy, top_cell):
    control, other = [c for (c,) in query(pilot_copy, "select cell_id from template_pair_scores order by score desc "
                                                      "limit 2 offset 1")]
    with duckdb.connect(str(pilot_copy)) as con:
        con.execute("update template_pair_scores set is_control = true where cell_id = ?", [control])
        con.execute("""insert into trait_geometry (geometry_id, cell_id_a, cell_id_b, layer, reduction, cosine,
                           cosine_ci_low, cosine_ci_high) values
                       ('g1', ?, ?, 1, 'response_mean', 0.3, null, null),
                       ('g2', ?, ?, 1, 'response_mean', 'nan'::double, null, null),
                       ('g3', ?, ?, 2, 'response_mean', 0.4, 0.1, 0.6)""",
                    [top_cell, other, top_cell, control, top_cell, other])
    at = app(pilot_copy, "views/steering.py")
    left_out = next(df for df in at.dataframe if "reason" in df.value.columns).value
    assert list(left_out["reason"]) == ["a control cell: both poles get the same prompt, so its vector is zero"]
    assert any(e.label == "1 cosines left out: a vector of length zero has no direction" for e in at.expander)
    (heatmap,) = [c for c in at.get("vega_lite_chart") if '"rect"' in c.proto.spec]
    drawn = pa.ipc.open_stream(heatmap.proto.datasets[0].data.data).read_all().to_pylist()
    assert [row["cosine"] for row in drawn] == [0.3]
    assert any("No intervals on the cosines at this layer; layers with intervals: 2." in c.value for c in at.caption)


def test_the_cells_page_labels_the_control_arm(app, pilot_copy):
    with duckdb.connect(str(pilot_copy)) as con:
        con.execute("update template_pair_scores set template_text = '', is_control = true "
                    "where cell_id = (select cell_id from template_pair_scores order by score desc limit 1)")
    at = app(pilot_copy)
    assert list(at.dataframe[0].value["template_text"])[0] == CONTROL_LABEL
