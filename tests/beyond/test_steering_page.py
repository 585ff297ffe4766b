"""The dashboard's Steering page opens on layer_choice (AppTest against a real built warehouse)."""

from __future__ import annotations

from pathlib import Path

from beyond_helpers import query
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def open_steering(monkeypatch, db: Path, **params) -> AppTest:
    monkeypatch.setenv("PSW_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    at.switch_page("views/steering.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_steering_opens_on_the_layer_choice(monkeypatch, screened_db, planted_cell):
    at = open_steering(monkeypatch, screened_db, cell=planted_cell)
    assert not at.info  # there is activation data: no "how to extract" note
    assert [h.value for h in at.subheader][:1] == ["Layer choice"]
    assert at.selectbox(key="steering_cell").value == planted_cell
    table = at.dataframe[0].value  # the first table on the page: every cell's recommended layer
    expected = query(screened_db, """
        select count(distinct cell_id) from main.layer_choice
        where reduction = 'response_mean' and is_recommended""")[0][0]
    assert len(table) == expected and table["is_recommended"].all()
    assert table["recommendation_reason"].str.startswith("best separation").all()
    [layer] = [r[0] for r in query(screened_db, """
        select layer from main.layer_choice
        where cell_id = ? and reduction = 'response_mean' and is_recommended""", [planted_cell])]
    assert any(m.value.startswith(f"**Layer {layer}**: best separation") for m in at.markdown)
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")  # the per-layer separation chart
