"""Data shown as text: a completion, a persona or an id is never markdown (the dashboard, `psw report`).

Streamlit renders markdown in st.markdown, captions, headers, alerts and metric labels: an image
in a completion (`![](https://host/beacon.png)`) would load from that host when the page opens,
a link would be one click away, `:red[...]` would recolour the page. `md(value)` backslash-escapes
every character markdown (and Streamlit's directives) give a meaning to, and keeps line breaks."""

from __future__ import annotations

import re

# every character markdown gives a meaning to; `.`, `-` and `_` only mean something at a word's
# edge (a list item, a rule, emphasis), so between two letters or digits (36.6, v2_pilot) they stay
SPECIAL = re.compile(r"[\\`*{}\[\]()#+!|<>~:$&=\"']|(?<![A-Za-z0-9])[._-]|[._-](?![A-Za-z0-9])")


def md(value) -> str:
    """`value` as markdown source that renders exactly as its text."""
    text = "" if value is None else str(value)
    text = SPECIAL.sub(lambda m: "\\" + m.group(), text.replace("\r\n", "\n"))
    return text.replace("\n", "  \n")


def code(value) -> str:
    """`value` as an inline code span: nothing inside renders (no image, link or heading), a
    backtick in it gets a longer fence, and it stays on one line."""
    text = " ".join(("" if value is None else str(value)).splitlines())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def as_text(source: str) -> str:
    """The text `md` escaped, back (for tests and copy-out): `as_text(md(x)) == x`."""
    return re.sub(r"\\(.)", r"\1", source.replace("  \n", "\n"), flags=re.S)
