"""Cells: the template x persona-pair leaderboard. Select a row to open the cell."""

from __future__ import annotations

import streamlit as st

from dashboard import queries
from dashboard.widgets import cell_filters, seed, set_url, url_value

FIRST_COLUMNS = ["score", "template_text", "persona_pair_id", "n", "n_errors", "recommended", "strict_pass_rate",
                 "mean_axis_delta", "mean_off_axis_problem", "mean_max_style_abs_delta", "persona_echo_rate",
                 "refusal_or_ai_break_rate", "mean_abs_word_delta_frac", "cell_id"]
ROW_LIMITS = [100, 500, 1000, 10000, 100000]
DEFAULT_ROWS = 500

st.title("Cells")
st.caption("The score is a sorting key; the examples are the proof. Select a row to read its pairs.")
filters = cell_filters("cells")

columns = queries.cell_columns()
seed("cells_sort", url_value("sort", "score") if url_value("sort", "score") in columns else "score")
seed("cells_desc", url_value("desc", True))
seed("cells_limit", url_value("limit", DEFAULT_ROWS) if url_value("limit", DEFAULT_ROWS) in ROW_LIMITS else DEFAULT_ROWS)
sort_col, desc_col, limit_col = st.columns([3, 1, 1])
sort = sort_col.selectbox("Sort by", columns, key="cells_sort")
descending = desc_col.toggle("Descending", key="cells_desc")
limit = limit_col.selectbox("Rows", ROW_LIMITS, key="cells_limit")
set_url(sort=None if sort == "score" else sort, desc=None if descending else "0",
        limit=None if limit == DEFAULT_ROWS else limit)

df = queries.cells(filters, sort, descending, limit)
total = queries.count_cells(filters)
st.markdown(f"**{total} cells** match" + (f" (showing the first {len(df)})" if total > len(df) else ""))
order = [c for c in FIRST_COLUMNS if c in df.columns] + [c for c in df.columns if c not in FIRST_COLUMNS]
event = st.dataframe(
    df, key="cells_table", on_select="rerun", selection_mode="single-row", hide_index=True, column_order=order,
    column_config={"score": st.column_config.NumberColumn("score", format="%.1f"),
                   "template_text": st.column_config.TextColumn("template", width="large")},
)
if event.selection.rows:
    st.switch_page("views/cell.py", query_params={"cell": df["cell_id"].iloc[event.selection.rows[0]]})

left, right = st.columns([3, 1])
if len(df):
    top = df.iloc[0]
    left.page_link("views/cell.py", label=f"Open the top cell: {top['score']} · {top['template_text']} "
                   f"× {top['persona_pair_id']}", icon=":material/open_in_new:", query_params={"cell": top["cell_id"]})
right.download_button("Download CSV", df.to_csv(index=False), file_name="template_pair_scores.csv",
                      mime="text/csv", key="cells_download")
