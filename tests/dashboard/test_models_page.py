"""The Models page (template_model_scores): heatmap, table, and links to each model's cells."""

from __future__ import annotations

from urllib.parse import parse_qs

import duckdb

from dashboard_helpers import query


def links(at) -> list[tuple[str, dict]]:
    return [(link.proto.label, parse_qs(link.proto.query_string)) for link in at.get("page_link")]


def test_models_page_on_the_pilot(app, pilot_db):
    """The pilot has one generator: every template is one square, score = its mean over pairs."""
    at = app(pilot_db, "views/models.py")
    df = at.dataframe[0].value
    assert len(df) == 4 and set(df["model_count"]) == {1}
    assert "**4 templates** across 1 generator models" in "\n".join(m.value for m in at.markdown)
    spec = at.get("vega_lite_chart")[0].proto.spec
    assert '"rect"' in spec and '"field": "generator_model"' in spec
    (top_text, top_score), = query(pilot_db, "select template_text, score_mean from template_model_scores "
                                             "order by score_mean desc limit 1")
    assert at.selectbox(key="models_template").value == df["template_label"].iloc[0]
    (label, params), = links(at)
    assert label.startswith("qwen/qwen3.5-27b · ") and params["generator"] == ["qwen/qwen3.5-27b"]
    assert params["template"] == [df["template_text"].iloc[0]]
    assert top_score == max(df["score_mean"]) and top_text in set(df["template_text"])


def test_two_models_link_to_each_models_cells(app, pilot_copy):
    con = duckdb.connect(str(pilot_copy))
    con.execute("update template_model_scores set model_scores = map(['gen/a', 'gen/b'], [10.0, 30.0]), "
                "models = ['gen/a', 'gen/b'], model_count = 2")
    con.execute("insert into template_model_scores (id, basis, template_id, template_text, model_count, models, "
                "model_scores, score_mean, score_std, score_p25, score_t, score_lower_bound) values "
                "('tm_control', 'measured', 'tpl_control', '', 2, ['gen/a', 'gen/b'], "
                "map(['gen/a', 'gen/b'], [0.0, 0.0]), 0, 0, 0, 0, 99)")   # the highest lower bound ranks first, whatever its mean
    (text,), = con.execute("select template_text from template_model_scores where template_text <> '' "
                           "order by template_id limit 1").fetchall()
    con.close()
    at = app(pilot_copy, "views/models.py", template=text)
    assert at.selectbox(key="models_template").value == text     # the template comes from the URL
    assert links(at) == [("gen/a · 10.0 · cells", {"template": [text], "generator": ["gen/a"]}),
                         ("gen/b · 30.0 · cells", {"template": [text], "generator": ["gen/b"]})]
    assert list(at.dataframe[0].value["template_label"])[0] == "(control: no template)"
    at.selectbox(key="models_template").set_value("(control: no template)").run()
    assert [label for label, _ in links(at)] == ["gen/a · 0.0 · cells", "gen/b · 0.0 · cells"]
    assert "template" not in at.query_params


def test_the_published_matrix_is_shown_beside_the_measured_one(app, pilot_copy):
    """Upstream's matrix from its published cells (basis published) is a second matrix on the page:
    chosen with the radio, its squares open nothing (no pairs behind them)."""
    con = duckdb.connect(str(pilot_copy))
    con.execute("insert into template_model_scores by name select * replace ('published' as basis, "
                "id || '_published' as id, map(['up/x'], [42.0]) as model_scores) from template_model_scores")
    con.close()
    at = app(pilot_copy, "views/models.py")
    assert at.radio(key="models_basis").options == ["measured (our cells)",
                                                    "published (upstream's cells, generators without pairs here)"]
    at.radio(key="models_basis").set_value("published").run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 4 and links(at) == []
    assert any("up/x · 42.0 (published cells)" in m.value for m in at.markdown)
