"""Templates: template_scores. Select a row to list its cells. An anchored measurement's templates
show the anchored protocol's columns (each pole against the baseline) in place of the guide's score,
which they do not have; a table of anchored templates only hides the guide's columns."""

from __future__ import annotations

import streamlit as st

from dashboard import queries
from dashboard.widgets import described_columns
from warehouse.labels import template_label

FIRST = ["template", "mean_score", "best_score", "best_persona_pair_id", "n_recommended", "n_persona_pairs",
         "measurement_id"]
# shown after the template when an anchored measurement is in the table (as the Cells page does)
ANCHORED = ["protocol", "mean_overall_score", "mean_min_side_delta", "mean_delta_pos_vs_base",
            "mean_delta_base_vs_neg", "strict_pass_rate", "recommended", "n_judge_did_not_commit"]
# the guide's columns, null on an anchored template
GUIDE_ONLY = ["mean_score", "best_score", "best_persona_pair_id", "best_cell_id", "best_score_ci_low",
              "mean_score_vs_control", "n_recommended_confident", "mean_positive_delta", "mean_negative_delta",
              "mean_pairwise_positive_delta", "mean_pairwise_negative_delta"]


def link_label(row) -> str:
    """The row's own protocol's score: the guide's mean cell score, or the anchored mean overall score."""
    if getattr(row, "protocol", "guide") == "anchored":
        return f"overall {row.mean_overall_score:.2f} · {template_label(row.template_text)} · cells"
    return f"{row.mean_score:.1f} · {template_label(row.template_text)} · cells"


st.title("Templates")
st.caption("Mean cell score over each template's persona pairs. Select a row to see its cells.")
df = queries.templates()
st.markdown(f"**{len(df)} templates**")
if not len(df):
    st.info("No measured templates yet: load a measurement (`psw ingest FILE...` or `psw collect ...`), "
            "then `psw build`.")
    st.stop()
df.insert(0, "template", df["template_text"].map(template_label))  # the control arm: a label, not a blank
protocols = set(df["protocol"]) if "protocol" in df.columns else {"guide"}
first = FIRST[:1] + ANCHORED + FIRST[1:] if "anchored" in protocols else FIRST
hidden = set(GUIDE_ONLY) if protocols == {"anchored"} else set()
if "anchored" in protocols:
    st.caption("Anchored templates (each pole judged against a no-persona baseline) have no guide score: "
               "their pairs pooled over persona pairs, ranked by mean overall score.")
order = [c for c in first if c in df.columns and c not in hidden]
order += [c for c in df.columns if c not in order and c not in hidden and c != "template_text"]
config = described_columns("template_scores", order, {"template": "The template's text; the control arm has none."},
                           {name: st.column_config.NumberColumn(name, format="%.1f") for name in ("mean_score", "best_score")})
event = st.dataframe(df, key="templates_table", on_select="rerun", selection_mode="single-row", hide_index=True,
                     column_order=order, column_config=config)
if event.selection.rows:
    row = df.iloc[event.selection.rows[0]]
    st.switch_page("views/cells.py", query_params={"template": row["template_text"],
                                                   "measurement": row["measurement_id"]})
for row in df.head(20).itertuples():
    st.page_link("views/cells.py", label=link_label(row),
                 query_params={"template": row.template_text, "measurement": row.measurement_id})
