"""How a template and a persona pair are named to a reader: the report, the dashboard, the README.

Ids (`cell_id`, `tpl_...`) are for joins; a person reads the template's text and the two poles.
The control arm's template is empty, which a table would show as a blank cell: it gets a label.
"""

from __future__ import annotations

CONTROL_LABEL = "(control: no template)"
# the same rule for queries that label in SQL (the dashboard's model matrix)
TEMPLATE_LABEL_SQL = f"case when coalesce(template_text, '') = '' then '{CONTROL_LABEL}' else template_text end"


def template_label(text: str | None) -> str:
    return text if text else CONTROL_LABEL


def persona_pair_label(pos: str | None, neg: str | None, pair_id: str | None = None) -> str:
    """`positive pole vs negative pole`, else the pair's id when the poles are not known."""
    if pos and neg:
        return f"{pos} vs {neg}"
    return pair_id or ""
