"""Steered texts: per scenario, what the model wrote at each steering coefficient, side by side,
with the judges' trait and coherence and the length; incoherent outputs are marked."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import steered_queries
from dashboard.plain import code, md
from dashboard.widgets import seed, set_url, url_value
from warehouse.labels import template_label

SCENARIOS_PER_PAGE = 10

st.title("Steered texts")
if not steered_queries.has_steered_outputs():
    st.info("No steered texts yet. Sweep a cell's vector (or an imported one) and rebuild:\n\n"
            "```\npsw extract steer --cell CELL_ID --layer 15 --coeffs -4,0,4 --judge MODEL\npsw build\n```")
    st.stop()


def pick(label: str, options: list, key: str, param: str, format_func=str):
    wanted = url_value(param, "")
    seed(key, next((o for o in options if str(o) == wanted), options[0]))
    if st.session_state[key] not in options:
        st.session_state[key] = options[0]
    value = st.selectbox(label, options, format_func=format_func, key=key)
    set_url(**{param: value})
    return value


def known(value) -> bool:
    return value is not None and value is not pd.NA and value == value


def score(value) -> str:
    return f"{value:.0f}" if known(value) else "n/a"


def show_output(column, coeff: float, row) -> None:
    column.markdown(f"**coeff {coeff:+g}**")
    if row is None:
        column.caption("no generation at this coefficient")
        return
    column.caption(f"trait {score(row.trait_score)} · coherence {score(row.coherence_score)} · "
                   f"{int(row.n_words)} words")
    if known(row.is_coherent) and not bool(row.is_coherent):
        column.warning("incoherent: below the coherence threshold")
    column.markdown(md(row.response_text) if row.response_text else "_(empty)_")


sources = steered_queries.steered_sources()
labels = {r.cell_id: (f"{r.score} · {template_label(r.template_text)} × {r.persona_pair_id}" if isinstance(r.template_text, str)
                      else f"{r.cell_id} ({r.n_generations} generations)") for r in sources.itertuples()}
cell_id = pick("Cell or imported vector", list(labels), "steered_cell", "cell", labels.get)
settings = steered_queries.steered_settings(cell_id)
left, middle, right = st.columns(3)
with left:
    layer = pick("Layer", sorted({int(x) for x in settings["layer"]}), "steered_layer", "layer")
at_layer = settings[settings["layer"] == layer]
with middle:
    positions = pick("Positions", sorted(set(at_layer["positions"])), "steered_positions", "positions")
sweeps = at_layer[at_layer["positions"] == positions]
with right:
    vector_id = pick("Vector", list(sweeps["vector_id"]), "steered_vector", "vector",
                     lambda v: f"{v[:12]} ({sweeps.set_index('vector_id').loc[v, 'model_id']})")

texts = steered_queries.steered_texts(vector_id, positions)
texts["scenario_id"] = texts["scenario_id"].fillna("")
coeffs = sorted(set(texts["coeff"]))
st.caption("One row per scenario, one column per coefficient (0 = unsteered). Trait: 0 = the negative "
           "pole, 100 = the positive one; coherent = coherence at least dbt var `steering_min_coherence` "
           "(default 50).")
if texts["trait_score"].isna().all() and texts["coherence_score"].isna().all():
    which = f"--vector {cell_id[len('trait:'):]}" if cell_id.startswith("trait:") else f"--cell {cell_id}"
    st.info(f"These texts are not judged yet: `psw extract judge {which} --layer {layer} "
            "--judge MODEL` (add `--base-url` for a local endpoint, `--rubric DIR` for your own rubric), "
            "then `psw build`.")
scenarios = texts[["scenario_id", "scenario_text"]].drop_duplicates()
pages = max(1, -(-len(scenarios) // SCENARIOS_PER_PAGE))
page = st.number_input("Page", 1, pages, 1, key="steered_page") if pages > 1 else 1
shown = scenarios.iloc[(page - 1) * SCENARIOS_PER_PAGE:page * SCENARIOS_PER_PAGE]
for number, scenario in enumerate(shown.itertuples(), (page - 1) * SCENARIOS_PER_PAGE + 1):
    rows = texts[(texts["scenario_text"] == scenario.scenario_text) & (texts["scenario_id"] == scenario.scenario_id)]
    by_coeff = {r.coeff: r for r in rows.itertuples()}
    with st.container(border=True):
        st.markdown(f"**Scenario {number}**" + (f" · {code(scenario.scenario_id)}" if scenario.scenario_id else ""))
        st.text(scenario.scenario_text)
        for column, coeff in zip(st.columns(len(coeffs)), coeffs):
            show_output(column, coeff, by_coeff.get(coeff))
