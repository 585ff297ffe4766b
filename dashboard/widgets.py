"""Widgets whose state lives in the URL query string, so a view can be shared as a link."""

from __future__ import annotations

import streamlit as st

from dashboard.queries import CellFilters, column_descriptions, filter_options

FILTER_PARAMS = {  # URL name -> default
    "measurement": [], "generator": [], "judge": [], "pair": [], "template": "",
    "min_n": 0, "recommended": False, "score_min": 0.0, "score_max": 100.0,
}


def url_value(name: str, default):
    """A query parameter, typed like its default."""
    if isinstance(default, list):
        return st.query_params.get_all(name)
    raw = st.query_params.get(name)
    if raw is None:
        return default
    try:
        if isinstance(default, bool):
            return raw.lower() in ("1", "true", "yes")
        return type(default)(raw)
    except ValueError:
        return default


def set_url(**values) -> None:
    """Write values to the URL; a value equal to its default is left out."""
    for name, value in values.items():
        default = FILTER_PARAMS.get(name)
        if value in (None, "", [], ()) or (default is not None and value == default):
            st.query_params.pop(name, None)
        elif isinstance(value, bool):
            st.query_params[name] = "1"
        else:
            st.query_params[name] = value if isinstance(value, list) else str(value)


def seed(key: str, value) -> None:
    """Start a keyed widget from the URL the first time it is drawn."""
    if key not in st.session_state:
        st.session_state[key] = value


def cell_filters(prefix: str, sidebar: bool = True) -> CellFilters:
    """The shared filter panel (Cells and On/off axis pages): URL -> widgets -> URL -> filters."""
    options = filter_options()
    where = st.sidebar if sidebar else st
    values = {name: url_value(name, default) for name, default in FILTER_PARAMS.items()}
    for name, key_options in [("measurement", "measurements"), ("generator", "generators"),
                              ("judge", "judges"), ("pair", "persona_pairs")]:
        seed(f"{prefix}_{name}", [v for v in values[name] if v in options[key_options]])
    seed(f"{prefix}_template", values["template"])
    seed(f"{prefix}_min_n", max(0, int(values["min_n"])))
    seed(f"{prefix}_recommended", values["recommended"])
    seed(f"{prefix}_score", (float(values["score_min"]), float(values["score_max"])))

    where.multiselect("Measurement", options["measurements"], key=f"{prefix}_measurement")
    where.multiselect("Generator", options["generators"], key=f"{prefix}_generator")
    where.multiselect("Judge", options["judges"], key=f"{prefix}_judge")
    where.text_input("Template text contains", key=f"{prefix}_template")
    where.multiselect("Persona pair", options["persona_pairs"], key=f"{prefix}_pair")
    where.number_input("Minimum n (successful pairs)", min_value=0, step=1, key=f"{prefix}_min_n")
    where.checkbox("Recommended only", key=f"{prefix}_recommended",
                   help="recommended_confident: upstream's point rule (recommended) and the score's lower bound "
                        "at or above the least score a recommended cell can have (10.4 at the default thresholds)")
    where.slider("Score range", 0.0, 100.0, step=0.1, key=f"{prefix}_score")

    state = st.session_state
    score_min, score_max = state[f"{prefix}_score"]
    filters = CellFilters(
        measurements=tuple(state[f"{prefix}_measurement"]), generators=tuple(state[f"{prefix}_generator"]),
        judges=tuple(state[f"{prefix}_judge"]), template=state[f"{prefix}_template"].strip(),
        persona_pairs=tuple(state[f"{prefix}_pair"]), min_n=int(state[f"{prefix}_min_n"]),
        recommended_only=bool(state[f"{prefix}_recommended"]), score_min=score_min, score_max=score_max,
    )
    set_url(measurement=list(filters.measurements), generator=list(filters.generators),
            judge=list(filters.judges), template=filters.template, pair=list(filters.persona_pairs),
            min_n=filters.min_n, recommended=filters.recommended_only,
            score_min=filters.score_min, score_max=filters.score_max)
    return filters


def described_columns(table: str, columns, extra: dict | None = None, typed: dict | None = None) -> dict:
    """column_config whose headers show the mart's description (dbt docs) as a tooltip.

    `extra` describes columns the mart lacks; `typed` gives a column its own config
    (st.column_config.NumberColumn(...)), to which the description is added."""
    descriptions = {**column_descriptions(table), **(extra or {})}
    config = {}
    for column in columns:
        base = dict((typed or {}).get(column) or st.column_config.Column())
        if descriptions.get(column):
            base["help"] = descriptions[column]
        config[column] = base
    return config
