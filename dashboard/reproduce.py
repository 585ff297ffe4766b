"""Queries of the Reproduce page: published numbers beside ours (the published_comparison mart)."""

from __future__ import annotations

import pandas as pd

from dashboard.queries import existing_marts, query


def available() -> bool:
    return "published_comparison" in existing_marts() and not query(
        "select 1 from published_comparison limit 1").empty


def summary() -> pd.DataFrame:
    """Per measurement and level: how many published numbers match, differ, or cannot be compared."""
    return query("""
        select measurement_id, level,
            count(distinct record_id) as published_rows,
            count(*) filter (where status = 'match') as matching,
            count(*) filter (where status = 'differs') as differing,
            count(*) filter (where status = 'cell_missing') as missing_cells,
            count(*) filter (where status = 'not_derivable') as not_derivable,
            list(distinct column_name order by column_name) filter (where status = 'not_derivable')
                as not_derivable_columns,
        from published_comparison
        group by measurement_id, level
        order by measurement_id, level""")


def flagged(measurement: str | None) -> pd.DataFrame:
    """Every published number we do not reproduce: the largest differences first."""
    return query("""
        select measurement_id, level, template_text, persona_pair_id, column_name, status, published, ours,
            round(difference, 4) as difference,
        from published_comparison
        where is_flagged and (?::varchar is null or measurement_id = ?)
        order by abs(difference) desc nulls first, measurement_id, template_text, persona_pair_id, column_name""",
                 (measurement, measurement))
