"""Templates: template_scores. Select a row to list its cells."""

from __future__ import annotations

import streamlit as st

from dashboard import queries
from dashboard.widgets import described_columns
from warehouse.labels import template_label

FIRST = ["template", "mean_score", "best_score", "best_persona_pair_id", "n_recommended", "n_persona_pairs",
         "measurement_id"]

st.title("Templates")
st.caption("Mean cell score over each template's persona pairs. Select a row to see its cells.")
df = queries.templates()
st.markdown(f"**{len(df)} templates**")
if not len(df):
    st.info("No measured templates yet: load a measurement (`psw ingest FILE...` or `psw collect ...`), "
            "then `psw build`.")
    st.stop()
df.insert(0, "template", df["template_text"].map(template_label))  # the control arm: a label, not a blank
order = FIRST + [c for c in df.columns if c not in FIRST and c != "template_text"]
config = described_columns("template_scores", order, {"template": "The template's text; the control arm has none."},
                           {name: st.column_config.NumberColumn(name, format="%.1f") for name in ("mean_score", "best_score")})
event = st.dataframe(df, key="templates_table", on_select="rerun", selection_mode="single-row", hide_index=True,
                     column_order=order, column_config=config)
if event.selection.rows:
    row = df.iloc[event.selection.rows[0]]
    st.switch_page("views/cells.py", query_params={"template": row["template_text"],
                                                   "measurement": row["measurement_id"]})
for row in df.head(20).itertuples():
    st.page_link("views/cells.py", label=f"{row.mean_score:.1f} · {template_label(row.template_text)} · cells",
                 query_params={"template": row.template_text, "measurement": row.measurement_id})
