"""On/off axis: mean axis delta against mean off-axis problem per cell. Click a point to open it."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import queries
from dashboard.widgets import cell_filters

st.title("On/off axis")
st.caption("Right is more intended-axis movement; down is fewer confounds. Click a point to open its cell.")
filters = cell_filters("axis")
df = queries.on_off_axis(filters)
st.markdown(f"**{len(df)} cells** with both means")
if not len(df):
    st.info("No cell with both means matches these filters: widen them in the sidebar.")
    st.stop()
pick = alt.selection_point(name="cell", fields=["cell_id"], on="click")
chart = alt.Chart(df).mark_circle(size=90).encode(
    x=alt.X("mean_axis_delta:Q", title="mean axis delta (-8..8)"),
    y=alt.Y("mean_off_axis_problem:Q", title="mean off-axis problem (1-7)"),
    color=alt.Color("score:Q", scale=alt.Scale(scheme="viridis", domain=[0, 100])),
    tooltip=["template_text", "persona_pair_id", "measurement_id", alt.Tooltip("score:Q", format=".1f"), "n",
             alt.Tooltip("mean_axis_delta:Q", format=".2f"), alt.Tooltip("mean_off_axis_problem:Q", format=".2f"),
             "cell_id"],
).add_params(pick)
event = st.altair_chart(chart, width="stretch", height=460, on_select="rerun", key="axis_chart")
chosen = ((event or {}).get("selection") or {}).get("cell") or []
if chosen and chosen[0].get("cell_id"):
    st.switch_page("views/cell.py", query_params={"cell": chosen[0]["cell_id"]})
