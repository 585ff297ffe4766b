"""The dashboard under the anchored protocol (issue 27): the Cell page shows the baseline answer beside
the two poles and the anchored components instead of the guide's factors; the Cells page carries the
anchored columns. A warehouse built from the hand-written anchored artifact (tests/anchored_fixture.py)."""

from __future__ import annotations

import pytest

import anchored_fixture as fx
from dashboard.plain import as_text
from dashboard_helpers import query
from psw.cli import main


@pytest.fixture(scope="module")
def anchored_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("anchored_dashboard")
    db = folder / "warehouse.duckdb"
    assert main(["--db", str(db), "ingest", str(fx.write(folder / "run.json"))]) == 0
    assert main(["--db", str(db), "build"]) == 0
    return db


def test_cells_carry_the_anchored_columns(app, anchored_db):
    at = app(anchored_db)
    df = at.dataframe[0].value
    assert len(df) == 2 and set(df["protocol"]) == {"anchored"}
    for column in ["mean_overall_score", "mean_min_side_delta", "mean_delta_pos_vs_base", "mean_delta_base_vs_neg",
                   "n_judge_did_not_commit"]:
        assert column in df.columns, column
    persona = df[df["template_text"] == fx.PERSONA].iloc[0]
    assert persona["mean_overall_score"] == pytest.approx(fx.PERSONA_CELL["mean_overall_score"])
    assert persona["n_judge_did_not_commit"] == 1 and persona["score"] != persona["score"]   # no guide score (NaN)


def test_cell_page_shows_the_baseline_between_the_poles(app, anchored_db):
    cell = query(anchored_db, "select cell_id from template_pair_scores where template_text = ?", [fx.PERSONA])[0][0]
    at = app(anchored_db, "views/cell.py", cell=cell)
    assert at.title[0].value == f"Overall score {fx.PERSONA_CELL['mean_overall_score']:.2f}"
    text = "\n".join(m.value for m in at.markdown)
    shown = as_text(text)
    for spec in fx.SPECS[:2]:
        assert spec["pos"][:50] in shown and spec["neg"][:50] in shown and spec["base"][:50] in shown
    assert text.count("**Baseline** · no persona") == 3          # two pairs and the failed one
    assert "judge did not commit :red[yes]" in text and "judge did not commit :green[no]" in text
    assert {m.label for m in at.metric} >= {"min side delta", "pos vs baseline", "baseline vs neg", "no verdict"}
    assert [as_text(e.value) for e in at.error] == ["Generation or judging failed: ValueError: empty generation"]


def test_templates_page_shows_the_anchored_columns_not_blank_guide_ones(app, anchored_db):
    at = app(anchored_db, "views/templates.py")
    table = at.dataframe[0]
    df = table.value
    assert len(df) == 2 and set(df["protocol"]) == {"anchored"}
    persona = df[df["template_text"] == fx.PERSONA].iloc[0]
    # the template pools the cell's pairs: one persona pair here, so the cell's numbers
    for column in ("mean_overall_score", "mean_min_side_delta", "mean_delta_pos_vs_base", "mean_delta_base_vs_neg"):
        assert persona[column] == pytest.approx(fx.PERSONA_CELL[column]), column
    shown = list(table.proto.column_order)
    assert shown[:4] == ["template", "protocol", "mean_overall_score", "mean_min_side_delta"]
    # every template is anchored: the guide's columns (null on them) are not shown
    assert not {"mean_score", "best_score", "best_persona_pair_id", "mean_positive_delta"} & set(shown)
    labels = [link.proto.label for link in at.get("page_link")]
    # best mean overall score first: the control arm (-1.0) above the persona template (-2.5)
    assert labels == ["overall -1.00 · (control: no template) · cells",
                      f"overall {fx.PERSONA_CELL['mean_overall_score']:.2f} · {fx.PERSONA} · cells"]
