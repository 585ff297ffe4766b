"""Models: templates x generator models (template_model_scores). Click a square for its cells."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import queries
from dashboard.widgets import seed, set_url, url_value

FIRST_COLUMNS = ["template_label", "score_lower_bound", "model_count", "score_mean", "score_std", "score_p25", "score_t",
                 "strict_pass_rate_mean", "axis_delta_mean", "off_axis_problem_mean", "persona_echo_rate_mean",
                 "refusal_or_ai_break_rate_mean", "models"]

st.title("Models")
st.caption("A model's template score is the mean over its persona pairs of 100 · clamp(axis delta / 8) · "
           "(1 − clamp((off-axis − 1) / 6)). Templates sort by the lower bound of that score across models "
           "(one-sided 95%; 0 with one model), shown beside the model count; score t is upstream's column. "
           "Click a square to open that template's cells on that model.")
bases = queries.model_matrix_bases()
if not bases:
    st.info("No template is measured with a generator model yet: `psw collect --generator A --generator B ...`, "
            "then `psw build`.")
    st.stop()
seed("models_basis", url_value("basis", bases[0]) if url_value("basis", bases[0]) in bases else bases[0])
basis = st.radio("Matrix", bases, key="models_basis", horizontal=True,
                 format_func={"measured": "measured (our cells)",
                              "published": "published (upstream's cells, generators without pairs here)"}.get)
set_url(basis=basis)
summary = queries.model_matrix(basis)
squares = queries.model_matrix_cells(basis)
pick = alt.selection_point(name="square", fields=["template_text", "generator_model"], on="click")
chart = alt.Chart(squares).mark_rect().encode(
    x=alt.X("generator_model:N", title="generator model"),
    y=alt.Y("template_label:N", sort=list(summary["template_label"]), title=None),
    color=alt.Color("score:Q", scale=alt.Scale(scheme="viridis", domain=[0, 100]), title="score"),
    tooltip=["template_label", "generator_model", alt.Tooltip("score:Q", format=".1f")],
).add_params(pick)
event = st.altair_chart(chart, width="stretch", on_select="rerun", key="models_chart")
chosen = ((event or {}).get("selection") or {}).get("square") or []
if chosen and chosen[0].get("generator_model") and basis == "measured":
    st.switch_page("views/cells.py", query_params={"template": chosen[0]["template_text"],
                                                   "generator": chosen[0]["generator_model"]})

st.markdown(f"**{len(summary)} templates** across {squares['generator_model'].nunique()} generator models")
st.dataframe(summary, key="models_table", hide_index=True,
             column_order=[c for c in FIRST_COLUMNS if c in summary.columns],
             column_config={"template_label": st.column_config.TextColumn("template", width="large")})

labels = list(summary["template_label"])
wanted = url_value("template", "")
seed("models_template", next((lab for lab, text in zip(labels, summary["template_text"]) if text == wanted), labels[0]))
label = st.selectbox("Template", labels, key="models_template")
template = summary["template_text"].iloc[labels.index(label)]
set_url(template=template)
for row in squares[squares["template_text"] == template].itertuples():
    if basis == "published":  # no pairs behind these numbers: nothing to open
        st.markdown(f"{row.generator_model} · {row.score:.1f} (published cells)")
        continue
    st.page_link("views/cells.py", label=f"{row.generator_model} · {row.score:.1f} · cells",
                 query_params={"template": template, "generator": row.generator_model})
