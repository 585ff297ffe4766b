"""psw's CTE folding (warehouse/dbt_ctes.py) gives dbt's own result, character for character, on
every model of the project and on the statement shapes dbt's function handles."""

from __future__ import annotations

import re

import pytest
from dbt.compilation import inject_ctes_into_sql as dbts_own
from dbt.contracts.graph.nodes import InjectedCTE

from warehouse.dbt_ctes import inject_ctes
from warehouse.db import DBT_DIR

CTES = [InjectedCTE(id="model.p.a", sql=" __dbt__cte__a as (select 1 as x)"),
        InjectedCTE(id="model.p.b", sql=" __dbt__cte__b as (select * from __dbt__cte__a)")]
SHAPES = ["select 1", "  \n select 1", "with t as (select 1) select * from t",
          "WITH RECURSIVE t(n) as (select 1 union all select n + 1 from t where n < 3) select * from t",
          "with\n  recursive t as (select 1) select * from t", "-- a note\nwith t as (select 1) select * from t",
          "/* a block\n note */ select 1", "-- only a note\nselect 1", "select * from (with t as (select 1) select * from t)",
          "withdrawals as (select 1)", "with/* c */t as (select 1) select * from t"]
MODELS = sorted((DBT_DIR / "models").rglob("*.sql"))


def _compiled(raw: str) -> str:
    """A model's SQL roughly as dbt compiles it: refs and sources become relation names, other
    Jinja (config, macros that add no SQL at the top) goes. (dbt's parse of raw Jinja text
    differs: it is not SQL.)"""
    sql = re.sub(r"\{\{\s*(?:ref|source)\(([^)]*)\)\s*\}\}",
                 lambda m: '"db"."s".' + m[1].split(",")[-1].strip().strip("'\""), raw)
    return re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", "", sql, flags=re.S)


@pytest.mark.parametrize("sql", SHAPES + [_compiled(path.read_text()) for path in MODELS],
                         ids=SHAPES + [path.stem for path in MODELS])
def test_the_ctes_go_where_dbt_puts_them(sql):
    assert inject_ctes(sql, CTES) == dbts_own(sql, CTES)
    assert inject_ctes(sql, []) == sql


def test_the_project_has_models_to_compare():
    assert len(MODELS) > 40
