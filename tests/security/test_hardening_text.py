"""Issue 23, item 8: data is shown as text. A completion holding an image would load it from a
remote host when its Cell page opens (a tracking beacon); a newline in a measurement id injected
markdown into the HF card."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from dashboard.plain import md
from security_helpers import ROOT

BEACON = "![pixel](http://127.0.0.1:9/beacon.png?who=me)"
HOSTILE = [BEACON, "<img src=x onerror=alert(1)>", "[click](javascript:alert(1))", ":red[recoloured]",
           "# heading\n---\n* list", "`code` **bold** $x^2$ ~~gone~~ | a | b |", "1. one\n> quote"]
RENDER = MarkdownIt("commonmark").enable("table").enable("strikethrough")


def rendered(source: str) -> str:
    return RENDER.render(source)


@pytest.mark.parametrize("text", HOSTILE)
def test_md_renders_exactly_the_text(text):
    html = rendered(md(text))
    assert "<img" not in html and "<a " not in html and "<h1" not in html and "<strong" not in html
    assert "<li" not in html and "<code" not in html and "<blockquote" not in html and "<table" not in html
    import html as html_lib
    import re
    shown = html_lib.unescape(re.sub(r"<[^>]+>", "", html)).replace("\n", "")
    assert shown == text.replace("\n", "")


def test_the_cell_page_shows_a_completion_as_text(pilot_copy, monkeypatch):
    with duckdb.connect(str(pilot_copy)) as con:   # the examples view made a table, one pair's texts planted
        con.execute("create table main._rows as select * from main.examples")
        con.execute("drop view main.examples")
        con.execute("alter table main._rows rename to examples")
        cell_id, pair_id = con.execute("select cell_id, pair_id from main.examples where not is_error "
                                       "order by cell_id, pair_id limit 1").fetchone()
        con.execute("update main.examples set pos_response = ? || pos_response, neg_persona = ? where pair_id = ?",
                    [BEACON + "\n\n", "<b>x</b> ![p](http://127.0.0.1:9/p.png)", pair_id])
    monkeypatch.setenv("PSW_DB", str(pilot_copy))
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=90)
    at.query_params["cell"] = cell_id
    at.run()
    at.switch_page("views/cell.py").run()
    assert not at.exception
    sources = [str(e.value) for e in [*at.markdown, *at.caption, *at.error, *at.warning, *at.title, *at.header]]
    assert any("pixel" in s for s in sources), "the planted completion is not on the page"
    for source in sources:
        assert "<img" not in rendered(source), source


def test_a_newline_in_a_measurement_id_stays_in_its_code_span():
    from hf.export import Split, render_card

    split = Split("x_examples", "examples", pa.table({"a": [1]}))
    evil = "run\n\n# Injected heading\n![beacon](http://127.0.0.1:9/b.png)\n`"
    card = render_card([split], [{"measurement_id": evil, "generator_model": "g`\n[x](http://e)", "judge_models": ["j"],
                                  "temperature": 0, "seed": 1, "ab_blinding": "yes", "source_format": "v2",
                                  "n_cells": 1, "n_planned": 1, "n_judged": 1, "n_failed": 0}])
    assert card.startswith("---\n")
    html = rendered(card.split("\n---\n", 1)[1])
    assert "<img" not in html and "Injected heading</h1>" not in html and 'href="http://e"' not in html
    assert "run\\n\\n# Injected heading" in card
