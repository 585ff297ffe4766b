"""Folding ephemeral models into the SQL that reads them, without a full SQL parse.

dbt folds each ephemeral model (our staging) into its readers as a CTE, and to find where the
CTEs go it parses the reader's whole compiled SQL with sqlparse (`dbt.compilation.
inject_ctes_into_sql`): 0.1-0.3 s of Python per model here, ~15% of a pilot build's CPU, for one
fact: does the statement open with `WITH` (or `WITH RECURSIVE`) at the top level, after any
comments? `inject_ctes` answers that by scanning the leading comments and whitespace, and puts
the CTEs where dbt's function puts them. `install()` hands it to dbt for the runs psw starts in
its process (warehouse/dbt_runner.py); tests/core/test_dbt_ctes.py checks it gives the same SQL
as dbt's own function for every model of the project.
"""

from __future__ import annotations

import re

_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)   # whitespace and comments
_WITH = re.compile(r"with\b", re.I)
_RECURSIVE = re.compile(r"recursive\b", re.I)


def inject_ctes(sql: str, ctes: list) -> str:
    """`sql` with the CTEs `ctes` (dbt InjectedCTE: `.sql` is `name as (...)`) in front of its own."""
    if not ctes:
        return sql
    joined = ", ".join(cte.sql for cte in ctes)
    start = _LEADING.match(sql).end()
    opening = _WITH.match(sql, start)
    if opening is None:  # no WITH of its own: one is added, before any leading comment (as dbt does)
        first = len(sql) - len(sql.lstrip())
        return f"{sql[:first]}with{joined} {sql[first:]}"
    after = opening.end()
    recursive = _RECURSIVE.match(sql, after + len(sql[after:]) - len(sql[after:].lstrip()))
    if recursive is not None:
        after = recursive.end()
    after += len(sql[after:]) - len(sql[after:].lstrip())  # dbt puts them before the next token
    return f"{sql[:after]}{joined}, {sql[after:]}"


def install() -> None:
    """Use `inject_ctes` in dbt's compiler for this process."""
    import dbt.compilation

    dbt.compilation.inject_ctes_into_sql = inject_ctes
