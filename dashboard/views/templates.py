"""Templates: template_scores. Select a row to list its cells."""

from __future__ import annotations

import streamlit as st

from dashboard import queries
from dashboard.widgets import described_columns

FIRST = ["template_text", "mean_score", "best_score", "best_persona_pair_id", "n_recommended", "n_persona_pairs",
         "measurement_id"]

st.title("Templates")
st.caption("Mean cell score over each template's persona pairs. Select a row to see its cells.")
df = queries.templates()
st.markdown(f"**{len(df)} templates**")
if not len(df):
    st.info("No measured templates yet: load a measurement (`psw ingest FILE...` or `psw collect ...`), "
            "then `psw build`.")
    st.stop()
order = FIRST + [c for c in df.columns if c not in FIRST]
event = st.dataframe(df, key="templates_table", on_select="rerun", selection_mode="single-row", hide_index=True,
                     column_order=order, column_config=described_columns("template_scores", order))
if event.selection.rows:
    row = df.iloc[event.selection.rows[0]]
    st.switch_page("views/cells.py", query_params={"template": row["template_text"],
                                                   "measurement": row["measurement_id"]})
for row in df.head(20).itertuples():
    st.page_link("views/cells.py", label=f"{row.mean_score} · {row.template_text} · cells",
                 query_params={"template": row.template_text, "measurement": row.measurement_id})
