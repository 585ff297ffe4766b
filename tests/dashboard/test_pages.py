"""Every page through streamlit's AppTest, against the warehouse built from the reference pilot."""

from __future__ import annotations

import duckdb

from dashboard_helpers import query
from dashboard.plain import as_text


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def charts(at) -> list:
    return at.get("vega_lite_chart")


def url(at, name) -> list[str]:
    value = at.query_params[name]
    return [value] if isinstance(value, str) else list(value)


def test_cells_lists_16_with_the_top_cell_first(app, pilot_db):
    at = app(pilot_db)
    df = at.dataframe[0].value
    assert len(df) == 16 and df["score"].iloc[0] == 36.6
    assert df["template_text"].iloc[0] == "You are a {persona} person thinking through the situation."
    assert "**16 cells** match" in markdown(at)
    # every component and every factor is a column
    for column in ["strict_pass_rate", "mean_axis_delta", "mean_off_axis_problem", "mean_max_style_abs_delta",
                   "persona_echo_rate", "refusal_or_ai_break_rate", "factor_axis", "factor_refusal", "n_errors"]:
        assert column in df.columns
    assert at.get("download_button")


def test_filters_change_the_rows_and_the_url(app, pilot_db):
    at = app(pilot_db)
    at.multiselect(key="cells_pair").set_value(["wellbeing_authority"]).run()
    df = at.dataframe[0].value
    assert len(df) == 4 and set(df["persona_pair_id"]) == {"wellbeing_authority"}
    assert url(at, "pair") == ["wellbeing_authority"]
    at.slider(key="cells_score").set_value((15.0, 100.0)).run()
    assert list(at.dataframe[0].value["score"]) == [36.6, 29.5, 18.7]
    at.text_input(key="cells_template").set_value("pretend").run()
    assert not at.dataframe and "**0 cells** match" in markdown(at)
    assert "widen them" in at.info[0].value  # an empty state says what to do
    at.slider(key="cells_score").set_value((0.0, 100.0)).run()
    at.text_input(key="cells_template").set_value("").run()
    at.multiselect(key="cells_pair").set_value([]).run()
    at.number_input(key="cells_min_n").set_value(4).run()
    assert len(at.dataframe[0].value) == 11 and (at.dataframe[0].value["n"] >= 4).all()
    at.selectbox(key="cells_sort").set_value("mean_off_axis_problem").run()
    at.toggle(key="cells_desc").set_value(False).run()
    offs = list(at.dataframe[0].value["mean_off_axis_problem"])
    assert offs == sorted(offs)


def test_filters_come_from_the_url(app, pilot_db):
    at = app(pilot_db, pair="principled_expedient", min_n="4")
    df = at.dataframe[0].value
    assert set(df["persona_pair_id"]) == {"principled_expedient"} and len(df) == 3
    # "recommended" is recommended_confident: on the pilot (n = 4) no lower bound clears the bar,
    # though upstream's point rule recommends two cells
    at = app(pilot_db, recommended="1")
    assert query(pilot_db, "select count(*) filter (recommended), count(*) filter (recommended_confident) "
                           "from template_pair_scores")[0] == (2, 0)
    assert not at.dataframe and "No cell matches these filters" in at.info[0].value


def test_cell_page_shows_four_scenarios_with_both_completions(app, pilot_db, top_cell):
    at = app(pilot_db, "views/cell.py", cell=top_cell)
    assert at.title[0].value == "Score 36.6"
    text = markdown(at)
    pairs = query(pilot_db, "select scenario_text, pos_response, neg_response from examples where cell_id = ?",
                  [top_cell])
    assert len(pairs) == 4 and [text.count(f"**Scenario {i}**") for i in range(1, 6)] == [1, 1, 1, 1, 0]
    assert "**Scenario** `pr_" not in text  # a label, not a pair id
    shown = as_text(text)   # completions are shown as text: their markdown characters escaped (issue 23)
    for scenario, pos, neg in pairs:
        assert scenario in shown and pos[:60] in shown and neg[:60] in shown
    assert "**Positive** · wellbeing-focused" in text and "**Negative** · authority-deferential" in text
    assert len(charts(at)) == 1 + 4  # the six factors, then one style chart per pair
    assert {m.label for m in at.metric} >= {"n", "strict pass", "axis delta", "off-axis", "max style"}
    assert not at.error


def test_cell_page_without_a_cell_offers_a_choice(app, pilot_db):
    at = app(pilot_db, "views/cell.py")
    assert at.selectbox(key="cell_choice").options[0].startswith("36.6 · ")
    at = app(pilot_db, "views/cell.py", cell="no_such_cell")
    assert "No cell `no_such_cell`" in at.warning[0].value


def test_templates_and_persona_pairs_link_to_their_cells(app, pilot_db):
    at = app(pilot_db, "views/templates.py")
    assert len(at.dataframe[0].value) == 4
    links = at.get("page_link")
    # every link targets the one Cells page (st.navigation resolves it by script hash)
    assert len(links) == 4 and len({link.proto.page_script_hash for link in links}) == 1
    assert all(link.proto.page_script_hash and link.proto.label.endswith("· cells") for link in links)
    at = app(pilot_db, "views/persona_pairs.py")
    df = at.dataframe[0].value
    assert len(df) == 16 and df["persona_pair_id"].iloc[0] == "wellbeing_authority"


def test_on_off_axis_scatter(app, pilot_db):
    at = app(pilot_db, "views/on_off_axis.py")
    assert "**16 cells** with both means" in markdown(at)
    assert len(charts(at)) == 1
    at.multiselect(key="axis_pair").set_value(["wellbeing_authority"]).run()
    assert "**4 cells** with both means" in markdown(at)


def test_steering_without_activations_says_how(app, pilot_db):
    at = app(pilot_db, "views/steering.py")
    assert "No activation data yet" in at.info[0].value


def test_steering_with_activation_rows(app, pilot_copy, top_cell):
    con = duckdb.connect(str(pilot_copy))
    for layer in (1, 2):
        con.execute("insert into activation_cell_stats (vector_id, cell_id, layer, reduction, n_pairs, "
                    "mean_pos_projection, mean_neg_projection) values (?, ?, ?, 'mean_response', 4, 2.0, -1.0)",
                    [f"v{layer}", top_cell, layer])
        for coeff in (-4, 0, 4):
            con.execute("insert into steering_summary (steering_setting_id, vector_id, cell_id, layer, positions, "
                        "coeff, n_generations, mean_projection, std_projection, mean_trait_score) "
                        "values (?, ?, ?, ?, 'response', ?, 3, ?, 0.5, ?)",
                        [f"s{layer}{coeff}", f"v{layer}", top_cell, layer, coeff, coeff / 2, 50 + 10 * coeff])
        for condition, coeff, projection in [("prompted_pos", None, 2.0), ("prompted_pos", None, 2.4),
                                             ("prompted_neg", None, -1.0), ("baseline", 0, 0.1), ("steered", 4, 1.9)]:
            con.execute("insert into projection_distribution (projection_row_id, vector_id, cell_id, layer, "
                        "condition, coeff, positions, projection, reduction) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [f"p{layer}{condition}{projection}", f"v{layer}", top_cell, layer, condition, coeff,
                         None if coeff is None else "response", projection, "mean_response"])
    con.execute("insert into trait_geometry (geometry_id, cell_id_a, cell_id_b, layer, reduction, cosine) "
                "values ('g1', 'a', 'b', 1, 'mean_response', 0.3), ('g2', 'b', 'a', 1, 'mean_response', 0.3)")
    con.close()
    at = app(pilot_copy, "views/steering.py")
    assert not at.info and len(charts(at)) == 4  # trait, projection, distributions, geometry
    spec = charts(at)[2].proto.spec
    assert '"boxplot"' in spec and '"field": "projection"' in spec and '"field": "condition"' in spec
    assert at.selectbox(key="steering_cell").value == top_cell
    assert len(at.dataframe[0].value) == 6


def test_sql_page_runs_a_select_and_refuses_a_write(app, pilot_db):
    at = app(pilot_db, "views/sql.py")
    assert len(at.dataframe[0].value) == 10  # the example query
    at.text_area(key="sql_query").set_value("select * from examples").run()
    at.number_input(key="sql_limit").set_value(5).run()
    assert len(at.dataframe[0].value) == 5 and "row limit reached" in markdown(at)
    assert url(at, "limit") == ["5"]
    at.text_area(key="sql_query").set_value("delete from examples").run()
    assert "Refused" in at.error[0].value and "DELETE" in at.error[0].value
    at.text_area(key="sql_query").set_value("select 1; drop table examples").run()
    assert "Refused" in at.error[0].value
    assert query(pilot_db, "select count(*) from examples")[0][0] == 64


def test_missing_or_unbuilt_warehouse_says_how_to_build(app, tmp_path):
    at = app(tmp_path / "none.duckdb")
    assert "no warehouse" in at.info[0].value and "psw" in markdown(at)
    duckdb.connect(str(tmp_path / "raw.duckdb")).close()
    at = app(tmp_path / "raw.duckdb")
    assert "no marts yet" in at.info[0].value


def select_row(at, key: str, row: int):
    at.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return at.run()


def test_selecting_a_row_opens_the_cell(app, pilot_db, top_cell):
    at = select_row(app(pilot_db), "cells_table", 0)
    assert at.title[0].value == "Score 36.6" and url(at, "cell") == [top_cell]


def test_a_template_or_persona_pair_row_opens_its_cells(app, pilot_db):
    at = select_row(app(pilot_db, "views/templates.py"), "templates_table", 0)
    df = at.dataframe[0].value
    assert at.title[0].value == "Cells" and len(df) == 4 and df["template_text"].nunique() == 1
    at = select_row(app(pilot_db, "views/persona_pairs.py"), "pairs_table", 0)
    df = at.dataframe[0].value
    assert set(df["persona_pair_id"]) == {"wellbeing_authority"} and url(at, "pair") == ["wellbeing_authority"]


def test_clicking_a_point_opens_the_cell(app, pilot_db, top_cell):
    at = app(pilot_db, "views/on_off_axis.py")
    at.session_state["axis_chart"] = {"selection": {"cell": [{"cell_id": top_cell}]}}
    at.run()
    assert at.title[0].value == "Score 36.6"
