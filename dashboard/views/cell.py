"""Cell: the score's six factors, the components, then every pair side by side."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.plain import code, md
from dashboard.widgets import set_url, url_value
from warehouse.labels import template_label

PAIRS_PER_PAGE = 20
COMPONENTS = [("n", "n"), ("n_errors", "errors"), ("strict_pass_rate", "strict pass"),
              ("mean_axis_delta", "axis delta"), ("mean_off_axis_problem", "off-axis"),
              ("mean_max_style_abs_delta", "max style"), ("persona_echo_rate", "echo rate"),
              ("refusal_or_ai_break_rate", "refusal rate"), ("mean_abs_word_delta_frac", "|length delta|")]
# an anchored cell (each pole judged against the no-persona baseline) has its own components
ANCHORED_COMPONENTS = [("n", "n"), ("n_errors", "errors"), ("strict_pass_rate", "strict pass"),
                       ("mean_min_side_delta", "min side delta"), ("mean_delta_pos_vs_base", "pos vs baseline"),
                       ("mean_delta_base_vs_neg", "baseline vs neg"), ("mean_axis_delta", "axis delta"),
                       ("mean_gate_off_axis_problem", "off-axis gate"), ("n_judge_did_not_commit", "no verdict")]


def choose_cell() -> str | None:
    choices = queries.cell_choices()
    labels = {r.cell_id: f"{r.score} · {template_label(r.template_text)} × {r.persona_pair_id}" for r in choices.itertuples()}
    return st.selectbox("Cell", list(labels), format_func=labels.get, index=None, key="cell_choice")


def recommended_text(cell) -> str:
    """recommended_confident, with upstream's point rule named when only it holds."""
    if cell["recommended_confident"]:
        return "yes (point rule, and the lower bound clears it)"
    if cell["recommended"]:
        return "not confidently (upstream's point rule holds, the score's lower bound does not clear it)"
    return "no"


def show_factors(cell_id: str) -> None:
    factors = queries.cell_factors(cell_id)
    chart = alt.Chart(factors).mark_bar().encode(
        x=alt.X("value:Q", scale=alt.Scale(domain=[0, 1]), title="factor (score = 100 x product)"),
        y=alt.Y("factor:N", sort=None, title=None, axis=alt.Axis(labelLimit=220)), tooltip=["factor", alt.Tooltip("value:Q", format=".3f")])
    st.altair_chart(chart, width="stretch")


def flag(value, good: bool) -> str:
    if value is None or value is pd.NA or value != value:
        return ":gray[n/a]"
    return f":{'green' if bool(value) == good else 'red'}[{'yes' if value else 'no'}]"


def show_pair(number: int, pair, style, ratings) -> None:
    with st.container(border=True):
        named = isinstance(pair.scenario_id, str) and pair.scenario_id
        st.markdown(f"**Scenario {number}**" + (f" · {code(pair.scenario_id)}" if named else ""))
        st.markdown(md(pair.scenario_text) if pair.scenario_text else "_(scenario text not stored)_")
        if pair.is_error:
            st.error(f"Generation or judging failed: {md(pair.error)}")
        if isinstance(pair.partial_judge_error, str) and pair.partial_judge_error:
            st.warning(f"Some judge calls failed: {md(pair.partial_judge_error)}")
        anchored = pair.protocol == "anchored"
        flags = [("strict pass", pair.is_strict_pass, True), ("usable", pair.is_usable_for_training, True),
                 ("persona echo", pair.has_persona_echo, False),
                 ("refusal / AI break", pair.has_refusal_or_ai_break, False)]
        if anchored:
            flags.append(("judge did not commit", pair.judge_did_not_commit, False))
        st.markdown(" · ".join(f"{name} {flag(value, good)}" for name, value, good in flags))
        if anchored:
            st.caption(f"overall score {pair.overall_score} · min side {pair.min_side_delta} "
                       f"(pos vs baseline {pair.delta_pos_vs_base}, baseline vs neg {pair.delta_base_vs_neg}) · "
                       f"off-axis gate {pair.off_axis_problem_likert_gate}")
        st.caption(f"axis delta {pair.axis_delta} (pos {pair.positive_delta}, neg {pair.negative_delta}) · "
                   f"off-axis {pair.off_axis_problem} · max style {pair.max_style_abs_delta} · "
                   f"words {pair.pos_words} vs {pair.neg_words} (delta {pair.word_delta}, "
                   f"frac {pair.word_delta_frac}) · likely spurious axis: {md(pair.likely_spurious_axis)} · "
                   f"pair {code(pair.pair_id)}")
        # under the anchored protocol each pole was judged against the no-persona baseline: shown between them
        pos, *base, neg = st.columns(3 if anchored else 2)
        pos.markdown(f"**Positive** · {md(pair.pos_persona)}")
        pos.markdown(md(pair.pos_response) if pair.pos_response else "_(no completion)_")
        if base:
            base[0].markdown("**Baseline** · no persona")
            base[0].markdown(md(pair.base_response) if isinstance(pair.base_response, str) else "_(no baseline stored)_")
        neg.markdown(f"**Negative** · {md(pair.neg_persona)}")
        neg.markdown(md(pair.neg_response) if pair.neg_response else "_(no completion)_")
        if len(style):
            chart = alt.Chart(style).mark_bar().encode(
                x=alt.X("delta:Q", title="style delta (pos - neg)", scale=alt.Scale(domain=[-6, 6])),
                y=alt.Y("dimension:N", title=None, axis=alt.Axis(labelOverlap=False)), color=alt.condition("datum.delta > 0", alt.value("#4c78a8"),
                                                                       alt.value("#e45756")))
            st.altair_chart(chart, width="stretch", height=190)
        if len(ratings):
            with st.expander(f"Judge ratings ({len(ratings)})"):
                st.dataframe(ratings.drop(columns=["pair_id"]), hide_index=True)
        else:  # an exported record carries the judges' per-pair metrics, not their raw objects
            st.caption(f"Judge ratings: this pair came from {code(pair.metrics_origin)} data, which carries the "
                       "per-pair metrics above, not the judges' raw rating objects.")


cell_id = url_value("cell", "") or choose_cell()
if not cell_id:
    st.title("Cell")
    st.info("Pick a cell above, or open one from the Cells page.")
    st.stop()
set_url(cell=cell_id)
summary = queries.cell_summary(cell_id)
if summary.empty:
    st.title("Cell")
    st.warning(f"No cell {code(cell_id)} in this warehouse (it may have been rebuilt away).")
    st.stop()
cell = summary.iloc[0]
anchored_cell = cell.get("protocol") == "anchored"

if anchored_cell:
    st.title(f"Overall score {cell['mean_overall_score']:.2f}")
    st.caption("Measured under the anchored protocol: each pole judged against a no-persona baseline answer. "
               "overall = 4 x min side delta - off-axis gate - max style - 3 x (echo, refusal, no verdict); "
               "the guide's score does not apply.")
else:
    st.title(f"Score {md(cell['score'])}")
if pd.notna(cell["score_ci_low"]) and cell.get("score_ci_method") == "jackknife_t":
    st.caption(f"{cell['score_ci_level']:.0%} interval {cell['score_ci_low']:.1f} to {cell['score_ci_high']:.1f}: "
               f"score ± t × jackknife SE {cell['score_se']:.2f} over the cell's {int(cell['n_success'])} pairs "
               "(no bootstrap for this measurement; failed pairs left out; short of its level "
               "at small n, see the docs); no P(top k)")
elif pd.notna(cell["score_ci_low"]):
    st.caption(f"{cell['score_ci_level']:.0%} bootstrap interval {cell['score_ci_low']:.1f} to "
               f"{cell['score_ci_high']:.1f} over the cell's {int(cell['n_success'])} pairs "
               f"({int(cell['n_bootstrap'])} replicates; failed pairs at their worst and best); "
               f"P(top k) {cell['p_top_k']:.2f}; jackknife SE {cell['score_se']:.2f}")
st.markdown(f"**Template** {code(template_label(cell['template_text']))}  \n**Persona pair** {code(cell['persona_pair_id'])}: "
            f"{md(cell['pos_persona'])} (positive) vs {md(cell['neg_persona'])} (negative)  \n"
            f"**Measurement** {code(cell['measurement_id'])} · generator {code(cell['generator_model'])} · "
            f"judge {code(cell['judge_model'])} · recommended: {recommended_text(cell)}")
factors_col, components_col = st.columns([3, 2])
if not anchored_cell:   # the six factors are the guide's score's
    with factors_col:
        show_factors(cell_id)
descriptions = queries.column_descriptions("template_pair_scores")
with components_col:
    grid = st.columns(3)
    for i, (column, label) in enumerate(ANCHORED_COMPONENTS if anchored_cell else COMPONENTS):
        value = cell[column]
        grid[i % 3].metric(label, f"{value:.2f}" if isinstance(value, float) else str(value),
                           help=descriptions.get(column))
with st.expander("Every component"):
    every = summary.T.rename(columns={summary.index[0]: "value"}).astype(str)
    every["description"] = [descriptions.get(column, "") for column in every.index]
    st.dataframe(every)

n_pairs = int(cell["n_planned"] or 0)
st.header(f"Pairs ({n_pairs})")
page = 1
if n_pairs > PAIRS_PER_PAGE:
    page = st.number_input("Page", 1, (n_pairs - 1) // PAIRS_PER_PAGE + 1, key="cell_pairs_page")
pairs = queries.cell_pairs(cell_id, PAIRS_PER_PAGE, (page - 1) * PAIRS_PER_PAGE)
style = queries.cell_style_deltas(cell_id)
ratings = queries.cell_ratings(cell_id)
for number, pair in enumerate(pairs.itertuples(), start=(page - 1) * PAIRS_PER_PAGE + 1):
    show_pair(number, pair, style[style["pair_id"] == pair.pair_id], ratings[ratings["pair_id"] == pair.pair_id])
