"""Compare: two measurements (or generator / judge models) cell by cell: what changed, by how
much, and which pairs moved. Select a row to see the cell's pairs side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import compare, queries
from dashboard.plain import md
from dashboard.widgets import described_columns, seed, set_url, url_value
from warehouse.labels import template_label

BY_LABELS = {"measurement": "Measurement", "generator": "Generator model", "judge": "Judge model"}
FACTOR_LABELS = dict(queries.FACTORS)
LABELS = {
    "score_change": st.column_config.NumberColumn("score change", format="%+.1f"),
    "score_a": st.column_config.NumberColumn("score A", format="%.1f"),
    "score_b": st.column_config.NumberColumn("score B", format="%.1f"),
    "what_changed": st.column_config.TextColumn("what changed most"),
    "template_text": st.column_config.TextColumn("template", width="large"),
    "persona_pair_id": st.column_config.TextColumn("persona pair"),
    **{f"{c}_change": st.column_config.NumberColumn(f"Δ {label}", format="%+.2f")
       for c, label in FACTOR_LABELS.items()},
    "mean_axis_delta_change": st.column_config.NumberColumn("Δ mean axis delta", format="%+.2f"),
    "mean_off_axis_problem_change": st.column_config.NumberColumn("Δ mean off-axis", format="%+.2f"),
}



def what_changed(changes: pd.DataFrame) -> pd.Series:
    """Per row, the score factor that moved most (None when none moved)."""
    size = changes.abs().fillna(0)
    biggest = size.idxmax(axis=1) if len(size) else pd.Series(dtype=str)
    return biggest.str.removesuffix("_change").map(FACTOR_LABELS).where(size.max(axis=1) > 0)


st.title("Compare")
st.caption("Cells are matched on template and persona pair; changes are B - A. Compared by a model, a cell "
           "is the mean over that model's measurements.")
seed("compare_by", url_value("by", "measurement") if url_value("by", "measurement") in BY_LABELS else "measurement")
by = st.radio("Compare", list(BY_LABELS), format_func=BY_LABELS.get, key="compare_by", horizontal=True)
choices = compare.options(by)
if len(choices) < 2:
    st.info(f"This warehouse holds one {BY_LABELS[by].lower()} ({', '.join(choices) or 'none'}): nothing to "
            "compare yet. Measure a second one (`psw collect ... --measurement NEW`, or `psw ingest FILE "
            "--measurement NEW`), then `psw build`.")
    st.stop()
seed("compare_a", url_value("a", "") if url_value("a", "") in choices else choices[0])
seed("compare_b", url_value("b", "") if url_value("b", "") in choices else choices[1])
left, right = st.columns(2)
a = left.selectbox("A (before)", choices, key="compare_a")
b = right.selectbox("B (after)", choices, key="compare_b")
set_url(by=None if by == "measurement" else by, a=a, b=b)
if a == b:
    st.warning("Pick two different ones.")
    st.stop()

df = compare.cells(by, a, b)
df["template_text"] = df["template_text"].map(template_label)  # display only: cells are matched by id
both = df[df["score_a"].notna() & df["score_b"].notna()].copy()
factor_changes = [f"{column}_change" for column in FACTOR_LABELS]
both["what_changed"] = what_changed(both[factor_changes])
metrics = st.columns(5)
metrics[0].metric("cells in both", len(both))
metrics[1].metric("mean score change", f"{both['score_change'].mean():+.1f}" if len(both) else "n/a")
metrics[2].metric("better / worse", f"{(both['score_change'] > 0).sum()} / {(both['score_change'] < 0).sum()}")
metrics[3].metric("only in A", int(df["score_b"].isna().sum()))
metrics[4].metric("only in B", int(df["score_a"].isna().sum()))

st.subheader("Cells, largest change first")
shown = ["score_change", "score_a", "score_b", "what_changed", "template_text", "persona_pair_id", *factor_changes,
         "mean_axis_delta_change", "mean_off_axis_problem_change", "n_a", "n_b"]
event = st.dataframe(both, key="compare_table", on_select="rerun", selection_mode="single-row", hide_index=True,
                     column_order=shown, column_config=described_columns("template_pair_scores", shown, {
                         "score_change": "score B - score A", "what_changed": "the score factor that moved most",
                         **{f"{c}_change": f"{label}: B - A" for c, label in FACTOR_LABELS.items()}}, LABELS))

st.subheader("Persona pairs: which moved")
moved = (both.groupby("persona_pair_id")["score_change"].agg(["mean", "min", "max", "count"])
         .rename(columns={"mean": "mean_change", "min": "worst", "max": "best", "count": "cells"})
         .sort_values("mean_change", key=abs, ascending=False).reset_index())
st.dataframe(moved, hide_index=True, key="compare_pairs_moved", column_config={
    "persona_pair_id": "persona pair", "cells": "cells in both",
    **{c: st.column_config.NumberColumn(f"{c.replace('_', ' ')} (score)", format="%+.1f")
       for c in ("mean_change", "worst", "best")}})

if event.selection.rows:
    row = both.iloc[event.selection.rows[0]]
    st.subheader(f"{md(row['persona_pair_id'])} · {md(row['template_text'])}: its pairs, A vs B")
    if row["n_cells_a"] == 1 and row["n_cells_b"] == 1:
        st.dataframe(compare.pairs(row["cell_a"], row["cell_b"]), hide_index=True, key="compare_cell_pairs")
        links = st.columns(2)
        links[0].page_link("views/cell.py", label="Open cell A", query_params={"cell": row["cell_a"]})
        links[1].page_link("views/cell.py", label="Open cell B", query_params={"cell": row["cell_b"]})
    else:
        st.caption("Each side pools several measurements here; compare two measurements to match pairs.")
for side, missing in (("A", "score_b"), ("B", "score_a")):
    only = df[df[missing].isna()]
    if len(only):
        with st.expander(f"Only in {side} ({len(only)})"):
            st.dataframe(only[["template_text", "persona_pair_id", f"score_{side.lower()}"]], hide_index=True)
