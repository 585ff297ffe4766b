"""Steering: the layer choice per cell, dose-response per cell (or imported vector), projections by
condition, the trait-geometry heatmap, and the vectors imported from other tools."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import queries, steered_queries
from dashboard.plain import md
from dashboard.widgets import seed, set_url, url_value
from warehouse.labels import template_label

st.title("Steering")
counts = queries.activation_row_counts()
if not any(counts.get(mart) for mart in ("layer_choice", "steering_summary", "trait_geometry", "imported_vectors")):
    st.info("No activation data yet. Extract vectors (or import them) and sweep coefficients, then rebuild:\n\n"
            "```\npsw extract vectors --model MODEL --layers 10,15,20\n"
            "psw ingest evil_response_avg_diff.pt --model MODEL   # or a repeng .gguf, a .safetensors\n"
            "psw extract steer --cell CELL_ID --layer 15 --coeffs -4,0,4\npsw extract project --cell CELL_ID "
            "--layer 15\npsw build\n```")
    st.stop()


def layer_choice_section(cell_id: str) -> None:
    st.subheader("Layer choice")
    st.caption("Per cell, the layer whose direction separates the completions the judges call positive from "
               "the ones they call negative (AUROC, d\u2032), or, once swept, the one that moves the judged trait "
               "most per unit coefficient. Newest extraction run, response-mean vectors.")
    st.dataframe(queries.layer_choice(), hide_index=True, key="layer_choice_table")
    layers = queries.layer_choice(cell_id)
    if layers.empty:
        st.info("No layer choice for this cell yet: `psw extract vectors --cell CELL_ID ...`, then `psw build`.")
        return
    picked = layers[layers["is_recommended"]]
    if not picked.empty:
        st.markdown(f"**Layer {int(picked['layer'].iloc[0])}**: {md(picked['recommendation_reason'].iloc[0])}")
    long = layers.melt(id_vars=["layer"], value_vars=["auroc", "d_prime", "direction_consistency"],
                       var_name="measure", value_name="value").dropna()
    chart = alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("layer:O", title="layer"), y=alt.Y("value:Q", title=None),
        tooltip=["layer", "measure", alt.Tooltip("value:Q", format=".3f")])
    st.altair_chart(chart.facet(column=alt.Column("measure:N", title=None)).resolve_scale(y="independent"),
                    width="content")


def dose_response_chart(df, y: str, title: str) -> alt.Chart:
    return alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("coeff:Q", title="steering coefficient"), y=alt.Y(f"{y}:Q", title=title),
        color=alt.Color("layer:N"), strokeDash=alt.StrokeDash("positions:N"),
        tooltip=["layer", "positions", "coeff", alt.Tooltip(f"{y}:Q", format=".2f"), "n_generations"])


def coherent_trait_and_drift_section(cell_id: str) -> None:
    """The trait over coherent outputs only, and what steering did to length and style (vs coefficient 0)."""
    extra = steered_queries.coherent_trait_and_drift(cell_id)
    if extra is None:
        st.info("The steering marts predate the coherent-only trait and drift columns: run `psw build`.")
        return
    coherent, drift = st.columns(2)
    with coherent:
        st.subheader("Trait score, coherent outputs only")
        st.caption("Mean trait over the generations whose coherence is at least `steering_min_coherence` "
                   "(default 50), as persona_vectors reports it; `coherent_rate` in the table below.")
        if extra["mean_trait_score_coherent"].notna().any():
            st.altair_chart(dose_response_chart(extra, "mean_trait_score_coherent", "trait score, coherent only"),
                            width="stretch")
        else:
            st.caption(f"No coherent judged outputs for this cell: `psw extract judge --cell {cell_id} "
                       "--judge MODEL`, then `psw build` (or read the texts on the Steered texts page).")
    with drift:
        st.subheader("Length and style drift")
        names = dict(steered_queries.DRIFT_MEASURES)
        measure = st.selectbox("Change from coefficient 0 in", list(names), format_func=names.get,
                               key="drift_measure")
        if extra[measure].notna().any():
            st.altair_chart(dose_response_chart(extra, measure, f"mean change in {names[measure]}"),
                            width="stretch")
        else:
            st.caption("No drift: the sweep needs coefficient 0 beside the others (`psw extract steer ... "
                       "--coeffs -4,0,4`), then `psw build`.")


def geometry_intervals(geo) -> None:
    """One vector's cosines to the others at this layer, with their bootstrap intervals as error bars."""
    if geo["cosine_ci_low"].isna().all():
        elsewhere = queries.geometry_interval_layers()
        if elsewhere:
            st.caption(f"No intervals on the cosines at this layer; layers with intervals: "
                       f"{', '.join(map(str, elsewhere))}.")
        else:
            st.caption("No intervals on these cosines: extract with `psw extract vectors --bootstrap N` (the "
                       "default, 50) to draw each cell vector over resampled pairs, then `psw build`.")
        return
    st.markdown("**Cosines with their bootstrap intervals**")
    st.caption("Each cell vector recomputed over its pairs resampled; the bar is the 95% percentile interval of the "
               "cosine between the two vectors' resamples (an imported vector counts as fixed). A bar that spans 0 "
               "does not say whether the two directions agree.")
    anchor = st.selectbox("Vector", sorted(geo["label_a"].unique()), key="geometry_anchor")
    rows = geo[(geo["label_a"] == anchor) & (geo["label_b"] != anchor)]
    base = alt.Chart(rows).encode(
        y=alt.Y("label_b:N", title=None, sort="-x", axis=alt.Axis(labelLimit=320)),
        tooltip=["label_b", "reduction", alt.Tooltip("cosine:Q", format=".3f"),
                 alt.Tooltip("cosine_ci_low:Q", format=".3f"), alt.Tooltip("cosine_ci_high:Q", format=".3f")])
    bars = base.mark_errorbar(ticks=True).encode(
        x=alt.X("cosine_ci_low:Q", scale=alt.Scale(domain=[-1, 1]), title=f"cosine to {anchor}"),
        x2="cosine_ci_high:Q")
    points = base.mark_point(filled=True, size=60).encode(x="cosine:Q", color="reduction:N")
    st.altair_chart((bars + points).properties(height=alt.Step(22)), width="stretch")


with_cells = tuple(m for m in ("layer_choice", "steering_summary") if counts.get(m))
if with_cells:
    cells = queries.steering_cells(with_cells)
    labels = {r.cell_id: f"{r.score} · {template_label(r.template_text)} × {r.persona_pair_id}" if isinstance(r.template_text, str)
              else f"imported vector {r.cell_id}" for r in cells.itertuples()}
    wanted = url_value("cell", "")
    seed("steering_cell", wanted if wanted in labels else next(iter(labels)))
    cell_id = st.selectbox("Cell", list(labels), format_func=labels.get, key="steering_cell")
    set_url(cell=cell_id)
    if not cell_id.startswith("trait:"):
        st.page_link("views/cell.py", label="Open this cell's pairs", query_params={"cell": cell_id})
    if counts.get("layer_choice"):
        layer_choice_section(cell_id)

curves = queries.dose_response(cell_id) if counts.get("steering_summary") else None
if curves is not None and curves.empty:
    st.caption("No steering sweep for this cell yet: `psw extract steer --cell CELL_ID --layer LAYER`.")
elif curves is not None:
    trait, projection = st.columns(2)
    with trait:
        st.subheader("Trait score")
        if curves["mean_trait_score"].notna().any():
            st.altair_chart(dose_response_chart(curves, "mean_trait_score", "judged trait score (0-100)"),
                            width="stretch")
        else:
            st.info(f"No judged trait scores for this cell: run `psw extract steer --cell {cell_id} --layer L "
                    "--judge MODEL` (add `--base-url` for a local endpoint), then `psw build`.")
    with projection:
        st.subheader("Projection")
        st.altair_chart(dose_response_chart(curves, "mean_projection", "mean projection on the cell vector"),
                        width="stretch")
    coherent_trait_and_drift_section(cell_id)
    st.subheader("Projection distributions")
    st.caption("Every response's projection on the cell vector: the measured pairs' completions under the "
               "positive and negative persona, the unsteered baseline (coefficient 0) and the steered ones.")
    proj = queries.projection_distribution(cell_id)
    if not len(proj):
        st.info(f"No projections for this cell yet: run `psw extract project --cell {cell_id}`, then `psw build`.")
    box = alt.Chart(proj).mark_boxplot(extent="min-max").encode(
        x=alt.X("projection:Q", title="projection"), y=alt.Y("label:N", title=None, sort=None),
        color="condition:N", tooltip=["condition", "coeff", "positions", "reduction"])
    if len(proj):
        st.altair_chart(box.facet(row="layer:N"), width="stretch")
    st.dataframe(curves, hide_index=True, key="steering_table")

if counts.get("trait_geometry"):
    st.subheader("Trait geometry")
    layers = queries.geometry_layers()
    layer = st.selectbox("Layer", layers, key="geometry_layer")
    geo = queries.geometry(layer)
    undefined, geo = geo[geo["cosine"].isna()], geo[geo["cosine"].notna()]
    heatmap = alt.Chart(geo).mark_rect().encode(
        x=alt.X("label_a:N", title=None, axis=alt.Axis(labelLimit=240)),
        y=alt.Y("label_b:N", title=None, axis=alt.Axis(labelLimit=240)),
        color=alt.Color("cosine:Q", scale=alt.Scale(scheme="redblue", domain=[-1, 1], reverse=True)),
        tooltip=["label_a", "label_b", "reduction", alt.Tooltip("cosine:Q", format=".3f"), "cell_id_a", "cell_id_b"])
    st.altair_chart(heatmap.facet(column="reduction:N"), width="content")
    if len(undefined):
        with st.expander(f"{len(undefined)} cosines left out: a vector of length zero has no direction"):
            reasons = undefined.assign(reason=undefined["involves_control"].map({
                True: "a control cell: both poles get the same prompt, so its vector is zero",
                False: "a vector of length zero"}))
            st.dataframe(reasons[["label_a", "label_b", "reduction", "reason"]], hide_index=True,
                         key="geometry_left_out")
    geometry_intervals(geo)

if counts.get("imported_vectors"):
    st.subheader("Imported vectors")
    st.caption("Vectors from other tools (`psw ingest --kind vectors`), in our layer numbering (output of "
               "model.layers[L]); steer with `psw extract steer --vector TRAIT`, project pairs with "
               "`psw extract project --vector TRAIT`. In the geometry above they are `trait:<name>`.")
    st.dataframe(queries.imported_vectors(), hide_index=True, key="imported_vectors_table")
