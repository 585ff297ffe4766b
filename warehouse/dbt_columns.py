"""A relation's columns for dbt without a Jinja macro call or an agate table.

dbt's incremental materialization asks DuckDB for a model's columns (its new rows' and its table's,
on_schema_change), and so does dbt/macros/incremental.sql where a model's stored columns were not read
with the others (~24 times a pilot build; the docs and the judge panels read their comments and names
in one query of their own: psw_stored_comments, dbt/macros/persist_docs.sql).
dbt's `get_columns_in_relation` runs the adapter's macro for it: a fresh macro
context (the manifest's ~600 macros put in a namespace), the `statement` call block, an agate
table of the result (type inference: agate's Date and DateTime types each build a parsedatetime
calendar) and a Jinja loop that makes each column: ~0.3 s of a ~3.5 s pilot build in a warm process
(py-spy, 2026-12-03), all on the GIL the other build thread waits for.

`get_columns_in_relation` sends the same query as dbt-duckdb's macro (`duckdb__get_columns_in_relation`:
DuckDB's DESCRIBE) through the same connection and `add_query` (so dbt's log shows it as before,
with its query comment and status), and makes the same columns: `Column(name, type, None, None,
None)`; a relation that does not exist has no columns ([]), as dbt-duckdb's override says.
`install()` hands it to dbt-duckdb's adapter for the runs psw starts in its process
(warehouse/dbt_runner.py). tests/core/test_dbt_columns.py compares it with dbt's own.
"""

from __future__ import annotations

from typing import Any

_COLUMNS_SQL = """
      select
          column_name,
          column_type as data_type,
          cast(null as bigint) as character_maximum_length,
          cast(null as bigint) as numeric_precision,
          cast(null as bigint) as numeric_scale
      from (describe {relation})
  """


def get_columns_in_relation(self, relation) -> list[Any]:
    """`DuckDBAdapter.get_columns_in_relation`: the relation's columns in table order, [] if it does not exist."""
    from dbt_common.exceptions import DbtRuntimeError

    connections = self.connections
    sql = connections._add_query_comment(_COLUMNS_SQL.format(relation=relation.render()))
    try:
        _, cursor = connections.add_query(sql, auto_begin=not connections.disable_transactions)
        rows = cursor.fetchall()
    except DbtRuntimeError as error:   # dbt-duckdb's: DESCRIBE raises on a missing relation
        if "does not exist" in str(error).lower():
            return []
        raise
    return [self.Column(*row) for row in rows]


def install() -> None:
    """Use `get_columns_in_relation` in dbt-duckdb's adapter for this process."""
    from dbt.adapters.duckdb.impl import DuckDBAdapter

    DuckDBAdapter.get_columns_in_relation = get_columns_in_relation
