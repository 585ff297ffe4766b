"""Data shown as text: a completion, a persona or an id is never markdown.

Streamlit renders markdown in st.markdown, captions, headers, alerts and metric labels: an image
in a completion (`![](https://host/beacon.png)`) would load from that host when the page opens,
a link would be one click away, `:red[...]` would recolour the page. `md(value)` backslash-escapes
every character markdown (and Streamlit's directives) give a meaning to, and keeps line breaks."""

from __future__ import annotations

import re

SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&=\"'])")


def md(value) -> str:
    """`value` as markdown source that renders exactly as its text."""
    text = "" if value is None else str(value)
    text = SPECIAL.sub(r"\\\1", text.replace("\r\n", "\n"))
    return text.replace("\n", "  \n")
