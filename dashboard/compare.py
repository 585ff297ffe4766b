"""Queries of the Compare page: two measurements (or models) cell by cell, then pair by pair.

Cells are matched on (template, persona pair). Compared by a model, a side's cell is the mean
over that model's measurements of the same template and persona pair (`n_cells` says how many).
"""

from __future__ import annotations

import pandas as pd

from dashboard.queries import FACTORS, query

SIDES = {"measurement": "measurement_id", "generator": "generator_model", "judge": "judge_model"}
MEANS = [column for column, _ in FACTORS] + ["mean_axis_delta", "mean_off_axis_problem",
                                               "mean_max_style_abs_delta", "strict_pass_rate"]


def options(by: str) -> list[str]:
    column = SIDES[by]
    df = query(f"select distinct {column} as value from template_pair_scores where {column} is not null order by 1")
    return list(df["value"])


def cells(by: str, a: str, b: str) -> pd.DataFrame:
    """One row per (template, persona pair) measured on either side: scores, changes (B - A)."""
    column = SIDES[by]
    means = ", ".join(f"avg({m}) as {m}" for m in MEANS)
    changes = ", ".join(f"b.{m} - a.{m} as {m}_change" for m in MEANS)
    return query(f"""
        with sides as (
            select {column} as side, template_id, persona_pair_id, any_value(template_text) as template_text,
                count(*) as n_cells, any_value(cell_id) as cell_id, avg(score) as score, sum(n) as n, {means},
            from template_pair_scores
            where {column} in (?, ?)
            group by {column}, template_id, persona_pair_id
        ),
        a as (select * from sides where side = ?),
        b as (select * from sides where side = ?)
        select
            coalesce(a.template_text, b.template_text) as template_text, persona_pair_id,
            round(a.score, 1) as score_a, round(b.score, 1) as score_b, round(b.score - a.score, 1) as score_change,
            {changes},
            a.n as n_a, b.n as n_b, a.n_cells as n_cells_a, b.n_cells as n_cells_b,
            a.cell_id as cell_a, b.cell_id as cell_b,
        from a full join b using (template_id, persona_pair_id)
        order by abs(b.score - a.score) desc nulls last, template_text, persona_pair_id""", (a, b, a, b))


def pairs(cell_a: str, cell_b: str) -> pd.DataFrame:
    """The two cells' successful pairs matched by scenario and sample: which pairs moved."""
    side = """
        select coalesce(scenario_id, md5(scenario_text)) as scenario_key, coalesce(sample_idx, 0) as sample,
            scenario_text, axis_delta, off_axis_problem, max_style_abs_delta, is_strict_pass, word_delta_frac,
        from examples where cell_id = ? and not coalesce(is_error, false)"""
    return query(f"""
        with a as ({side}), b as ({side})
        select
            coalesce(a.scenario_text, b.scenario_text) as scenario_text, sample,
            a.axis_delta as axis_delta_a, b.axis_delta as axis_delta_b,
            b.axis_delta - a.axis_delta as axis_delta_change,
            a.off_axis_problem as off_axis_a, b.off_axis_problem as off_axis_b,
            a.max_style_abs_delta as max_style_a, b.max_style_abs_delta as max_style_b,
            a.is_strict_pass as strict_pass_a, b.is_strict_pass as strict_pass_b,
        from a full join b using (scenario_key, sample)
        order by abs(b.axis_delta - a.axis_delta) desc nulls last, scenario_text, sample""", (cell_a, cell_b))
