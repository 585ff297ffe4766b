"""SQL: one read-only query over the warehouse, with a row limit and a time limit.

The query is kept in the URL so a view can be shared; it runs sandboxed (the warehouse only:
no files, network, extensions or settings), so opening a link cannot read the opener's machine."""

from __future__ import annotations

import streamlit as st

from dashboard import queries
from dashboard.plain import md
from dashboard.widgets import seed, set_url, url_value
from warehouse.db import sql_max_rows, sql_timeout_s
from warehouse.errors import UserError

EXAMPLE = "select score, template_text, persona_pair_id, n from template_pair_scores order by score desc limit 10"

st.title("SQL")
MAX_ROWS = sql_max_rows()
st.caption("One SELECT over the marts (template_pair_scores, template_scores, persona_pair_review, examples, "
           f"length_deltas, ...). Read-only and sandboxed: it sees the warehouse only (no files, network or "
           f"extensions); it stops after {sql_timeout_s():g} s and {MAX_ROWS} rows.")
seed("sql_query", url_value("q", EXAMPLE))
seed("sql_limit", min(MAX_ROWS, max(1, url_value("limit", 1000))))
st.text_area("Query", key="sql_query", height=140)
st.number_input("Row limit", min_value=1, max_value=MAX_ROWS, step=100, key="sql_limit")
sql, limit = st.session_state.sql_query, int(st.session_state.sql_limit)
set_url(q=sql, limit=None if limit == 1000 else limit)
if sql.strip():
    try:
        df = queries.run_sql(sql, limit)
    except UserError as exc:
        st.error(f"Refused: {md(exc)}")
    else:
        st.markdown(f"**{len(df)} rows**" + (" (row limit reached)" if len(df) == limit else ""))
        st.dataframe(df, hide_index=True, key="sql_result")
        st.download_button("Download CSV", df.to_csv(index=False), file_name="query.csv", mime="text/csv",
                           key="sql_download")
