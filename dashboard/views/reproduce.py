"""Reproduce: does the warehouse give the numbers a published stats file reports?"""

from __future__ import annotations

import streamlit as st

from dashboard import reproduce
from dashboard.plain import md
from dashboard.widgets import described_columns

st.title("Reproduce")
st.caption("Published stats files (`psw ingest *_template_pair_stats.jsonl`) beside our marts, column by "
           "column. A flagged number differs by more than the `published_tolerance` var, or its cell is "
           "missing here.")
if not reproduce.available():
    st.info("No published stats loaded. Load a stats file beside its examples, then build:\n\n"
            "```\npsw ingest run_template_pair_stats.jsonl run_template_stats.jsonl\npsw build\n```")
    st.stop()
summary = reproduce.summary()
st.dataframe(summary, key="reproduce_summary", hide_index=True,
             column_config=described_columns("published_comparison", list(summary.columns)))
measurements = list(summary["measurement_id"].unique())
measurement = st.selectbox("Measurement", measurements, key="reproduce_measurement")
flagged = reproduce.flagged(measurement)
if flagged.empty:
    st.success(f"Every published number of {md(measurement)} is reproduced (within tolerance), except the "
               "columns listed as not derivable above.")
else:
    st.warning(f"{len(flagged)} published number(s) of {md(measurement)} are not reproduced.")
    st.dataframe(flagged, key="reproduce_flagged", hide_index=True,
                 column_config=described_columns("published_comparison", list(flagged.columns)))
