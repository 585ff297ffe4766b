"""The report's plots as Vega-Lite (altair) specs, rendered to PNG and SVG offline."""

from __future__ import annotations

import re

import altair as alt
import pandas as pd

WIDTH, HEIGHT = 560, 380


def on_off_axis(cells: pd.DataFrame) -> alt.Chart:
    return alt.Chart(cells, title="Cells: on-axis movement against off-axis problems").mark_circle(size=70).encode(
        x=alt.X("mean_axis_delta:Q", title="mean axis delta (-8..8; right: more intended movement)"),
        y=alt.Y("mean_off_axis_problem:Q", title="mean off-axis problem (1-7; down: fewer confounds)"),
        color=alt.Color("score:Q", title="score", scale=alt.Scale(scheme="viridis", domain=[0, 100])),
        shape=alt.Shape("measurement_id:N", title="measurement"),
    ).properties(width=WIDTH, height=HEIGHT)


def model_matrix(scores: pd.DataFrame) -> alt.Chart:
    base = alt.Chart(scores, title="Template x generator model: mean score over persona pairs").encode(
        x=alt.X("model:N", title="generator model", sort=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("template:N", title=None, sort=None, axis=alt.Axis(labelLimit=360)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("score:Q", title="score", scale=alt.Scale(scheme="viridis", domain=[0, 100])))
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("score:Q", format=".1f"),
        color=alt.condition("datum.score > 60", alt.value("black"), alt.value("white")))
    return (cells + text).properties(width=max(120, 90 * scores["model"].nunique()),
                                     height=22 * scores["template"].nunique())


def steering(curves: pd.DataFrame) -> alt.Chart:
    return alt.Chart(curves, title="Steering: trait score by coefficient").mark_line(point=True).encode(
        x=alt.X("coeff:Q", title="steering coefficient"),
        y=alt.Y("mean_trait_score:Q", title="mean trait score (0-100)", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("curve:N", title="layer: cell or vector", legend=alt.Legend(labelLimit=360)),
    ).properties(width=WIDTH, height=HEIGHT)


def render(chart: alt.Chart) -> tuple[bytes, bytes]:
    """(PNG, SVG) of a chart; SVG ids renumbered in order so equal charts give equal bytes."""
    import vl_convert as vlc

    spec = chart.to_dict()
    png = vlc.vegalite_to_png(spec, scale=2)
    svg = vlc.vegalite_to_svg(spec)
    for n, old in enumerate(dict.fromkeys(re.findall(r'id="([^"]+)"', svg))):
        new = f"psw-{n}"
        svg = svg.replace(f'id="{old}"', f'id="{new}"').replace(f"#{old})", f"#{new})").replace(f'"#{old}"', f'"#{new}"')
    return png, svg.encode("utf-8")
