"""Persona pairs: persona_pair_review. Select a row to list its cells."""

from __future__ import annotations

import streamlit as st

from dashboard import queries
from dashboard.widgets import described_columns

FIRST = ["persona_pair_id", "proof_grade", "best_score", "mean_score", "best_template_text", "n_cells",
         "n_recommended", "pos_persona", "neg_persona"]

st.title("Persona pairs")
st.caption("Each pair's best template and proof grade. Select a row to see its cells.")
df = queries.persona_pairs()
st.markdown(f"**{len(df)} persona pairs**")
if not len(df):
    st.info("No persona pairs yet: load candidates (`psw ingest persona_pairs.jsonl`), then `psw build`.")
    st.stop()
order = FIRST + [c for c in df.columns if c not in FIRST]
event = st.dataframe(df, key="pairs_table", on_select="rerun", selection_mode="single-row", hide_index=True,
                     column_order=order, column_config=described_columns("persona_pair_review", order))
if event.selection.rows:
    st.switch_page("views/cells.py", query_params={"pair": df["persona_pair_id"].iloc[event.selection.rows[0]]})
for row in df.head(20).itertuples():
    st.page_link("views/cells.py", label=f"{row.persona_pair_id} · {row.proof_grade} · cells",
                 query_params={"pair": row.persona_pair_id})
