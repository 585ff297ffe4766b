"""Cells: the template x persona-pair leaderboard, the six score factors as a bar per row, the
scores with their bootstrap intervals as error bars, and a template x persona-pair heatmap of
scores. Select a row (or a square, or a point) to open the cell."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import queries
from dashboard.widgets import cell_filters, described_columns, seed, set_url, url_value
from warehouse.labels import template_label

COMPACT = ["score", "p_top_k", "factors", "template_text", "persona_pair_id", "measurement_id", "n", "n_errors",
           "recommended_confident", "recommended",
           "strict_pass_rate", "mean_axis_delta", "mean_off_axis_problem", "mean_max_style_abs_delta",
           "persona_echo_rate", "refusal_or_ai_break_rate", "mean_abs_word_delta_frac", "score_se", "score_ci_low",
           "score_ci_high"]
# shown beside them when an anchored measurement is in the table (each pole against the baseline)
ANCHORED = ["protocol", "mean_overall_score", "mean_min_side_delta", "mean_delta_pos_vs_base",
            "mean_delta_base_vs_neg", "mean_gate_off_axis_problem", "n_judge_did_not_commit"]
ROW_LIMITS = [100, 500, 1000, 10000, 100000]
DEFAULT_ROWS = 500
INTERVAL_ROWS = 30
FACTORS_HELP = ("The six score factors, each 0-1, left to right: " + ", ".join(label for _, label in queries.FACTORS)
                + ". The score is 100 x their product: the shortest bar is what holds the cell back.")
TYPED = {
    "score": st.column_config.NumberColumn("score", format="%.1f"),
    "factors": st.column_config.BarChartColumn("score factors", y_min=0.0, y_max=1.0),
    "template_text": st.column_config.TextColumn("template", width="large"),
    "persona_pair_id": st.column_config.TextColumn("persona pair"),
    "measurement_id": st.column_config.TextColumn("measurement"),
}


def score_intervals(df) -> None:
    """The first rows' scores as points with their bootstrap percentile intervals as error bars:
    two cells whose bars overlap are not told apart by this measurement."""
    shown = df.head(INTERVAL_ROWS).assign(
        label=lambda d: d["score"].map("{:.1f}".format) + " · " + d["template_text"].map(template_label).str.slice(0, 60)
        + " × " + d["persona_pair_id"])
    if shown["score_ci_low"].isna().all():
        return
    analytic = (shown["score_ci_method"] == "jackknife_t").sum()
    st.subheader("Scores with their intervals" if analytic else "Scores with their bootstrap intervals")
    level = shown["score_ci_level"].max()
    st.caption(f"The first {len(shown)} rows: the score (point) and its {level:.0%} bootstrap "
               "percentile interval over the cell's pairs (bar). Where two bars overlap, this measurement does not "
               "tell the cells apart: measure more scenarios before choosing. Click a point to open its cell."
               + (f" {analytic} of them (score_ci_method jackknife_t: no bootstrap for their measurement) show "
                  "score ± t × jackknife SE instead, short of its level at small n." if analytic else ""))
    pick = alt.selection_point(name="cell", fields=["cell_id"], on="click")
    base = alt.Chart(shown).encode(
        y=alt.Y("label:N", sort=None, title=None, axis=alt.Axis(labelLimit=420)),
        tooltip=["template_text", "persona_pair_id", alt.Tooltip("score:Q", format=".1f"),
                 alt.Tooltip("score_ci_low:Q", format=".1f"), alt.Tooltip("score_ci_high:Q", format=".1f"),
                 alt.Tooltip("score_se:Q", format=".2f"), "score_ci_method", "n"])
    bars = base.mark_errorbar(ticks=True).encode(
        x=alt.X("score_ci_low:Q", scale=alt.Scale(domain=[0, 100]), title="score"), x2="score_ci_high:Q")
    points = base.mark_point(filled=True, size=60).encode(x="score:Q").add_params(pick)
    event = st.altair_chart((bars + points).properties(height=alt.Step(22)), width="stretch",
                            on_select="rerun", key="cells_intervals")
    chosen = ((event or {}).get("selection") or {}).get("cell") or []
    if chosen and chosen[0].get("cell_id"):
        st.switch_page("views/cell.py", query_params={"cell": chosen[0]["cell_id"]})


def score_heatmap(filters, measurements: list[str]) -> None:
    st.subheader("Scores: template x persona pair")
    if len(measurements) > 1:
        seed("cells_grid_measurement", measurements[0])
        measurement = st.selectbox("Measurement", measurements, key="cells_grid_measurement")
    else:
        measurement = measurements[0]
    grid = queries.score_grid(filters, measurement)
    st.caption(f"`{measurement}`: up to 40 templates x 40 persona pairs with the best cells. "
               "Click a square to open it.")
    pick = alt.selection_point(name="cell", fields=["cell_id"], on="click")
    base = alt.Chart(grid).encode(
        x=alt.X("persona_pair_id:N", title="persona pair", axis=alt.Axis(labelAngle=-40, labelLimit=160)),
        y=alt.Y("template_text:N", title=None, axis=alt.Axis(labelLimit=320)),
        tooltip=["template_text", "persona_pair_id", alt.Tooltip("score:Q", format=".1f"), "n", "recommended"])
    squares = base.mark_rect(stroke="white").encode(
        color=alt.Color("score:Q", scale=alt.Scale(scheme="viridis", domain=[0, 100]), title="score"),
    ).add_params(pick)
    labels = base.mark_text(fontSize=11).encode(
        text=alt.Text("score:Q", format=".1f"),
        color=alt.condition("datum.score > 60", alt.value("black"), alt.value("white")))
    chart = (squares + labels).properties(height=alt.Step(30))
    event = st.altair_chart(chart, width="stretch", on_select="rerun", key="cells_heatmap")
    chosen = ((event or {}).get("selection") or {}).get("cell") or []
    if chosen and chosen[0].get("cell_id"):
        st.switch_page("views/cell.py", query_params={"cell": chosen[0]["cell_id"]})


st.title("Cells")
st.caption("The score is a sorting key; the examples are the proof. Select a row to read its pairs. "
           "Hover a column header for what it means.")
filters = cell_filters("cells")

columns = queries.cell_columns()
seed("cells_sort", url_value("sort", "score") if url_value("sort", "score") in columns else "score")
seed("cells_desc", url_value("desc", True))
seed("cells_limit", url_value("limit", DEFAULT_ROWS) if url_value("limit", DEFAULT_ROWS) in ROW_LIMITS else DEFAULT_ROWS)
seed("cells_every_column", url_value("columns", "") == "all")
sort_col, desc_col, limit_col, every_col = st.columns([3, 1, 1, 1])
sort = sort_col.selectbox("Sort by", columns, key="cells_sort")
descending = desc_col.toggle("Descending", key="cells_desc")
limit = limit_col.selectbox("Rows", ROW_LIMITS, key="cells_limit")
every = every_col.toggle("Every column", key="cells_every_column")
set_url(sort=None if sort == "score" else sort, desc=None if descending else "0",
        limit=None if limit == DEFAULT_ROWS else limit, columns="all" if every else None)

df = queries.cells(filters, sort, descending, limit)
total = queries.count_cells(filters)
st.markdown(f"**{total} cells** match" + (f" (showing the first {len(df)})" if total > len(df) else ""))
if not len(df):
    st.info("No cell matches these filters: widen them in the sidebar (or clear the URL's query string).")
    st.stop()
anchored = "protocol" in df.columns and (df["protocol"] == "anchored").any()
shown = [c for c in COMPACT + (ANCHORED if anchored else []) if c in df.columns]
order = shown + ([c for c in df.columns if c not in shown and c != "cell_id"] + ["cell_id"] if every else [])
event = st.dataframe(  # the control arm's empty template shown by its label; rows are picked by cell_id
    df.assign(template_text=df["template_text"].map(template_label)), key="cells_table", on_select="rerun", selection_mode="single-row", hide_index=True, column_order=order,
    column_config=described_columns("template_pair_scores", order, {"factors": FACTORS_HELP}, TYPED),
)
if event.selection.rows:
    st.switch_page("views/cell.py", query_params={"cell": df["cell_id"].iloc[event.selection.rows[0]]})

left, right = st.columns([3, 1])
top = df.iloc[0]
left.page_link("views/cell.py", label=f"Open the top cell: {top['score']} · {template_label(top['template_text'])} "
               f"× {top['persona_pair_id']}", icon=":material/open_in_new:", query_params={"cell": top["cell_id"]})
right.download_button("Download CSV", df.drop(columns=["factors"]).to_csv(index=False),
                      file_name="template_pair_scores.csv", mime="text/csv", key="cells_download")
score_intervals(df)
# the best cell's measurement first, then the other measurements that pass the filters
score_heatmap(filters, list(dict.fromkeys([*df["measurement_id"].dropna(),
                                           *(filters.measurements or queries.filter_options()["measurements"])])))
