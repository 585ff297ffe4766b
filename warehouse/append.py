"""The one way rows enter the raw schema: a content-addressed, transactional append.

Every writer (ingest, collect, extract, hf import) hands its rows here. Rows are
matched to the table's columns by name (a column a row does not carry is NULL),
JSON columns are cast from their text, and a row whose key the table already
holds is skipped, so loading the same content twice adds nothing. Within one
call, rows sharing a key are stored once (the first). A table whose JSON has
typed attributes (warehouse.schema.TYPED_JSON) gets them typed here, from the
JSON as stored, whatever the rows carry. `transaction` makes a group of appends
land together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from itertools import count
from typing import TYPE_CHECKING

import duckdb

from warehouse.schema import TYPED_JSON, typed_json_sql

if TYPE_CHECKING:
    import pyarrow as pa

_names = count()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection):
    """Everything inside lands together, or nothing does (the error propagates)."""
    con.begin()
    try:
        yield con
    except BaseException:
        con.rollback()
        raise
    con.commit()


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """(name, type) of each column of a raw table, in table order."""
    schema, name = table.split(".")
    return con.execute("select column_name, data_type from information_schema.columns "
                       "where table_schema = ? and table_name = ? order by ordinal_position",
                       [schema, name]).fetchall()


def append(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table | Sequence[dict] | str,
           key: str | Sequence[str], params: Sequence | None = None) -> int:
    """Insert the rows whose key `table` does not hold yet; returns how many were inserted.

    `rows` is an Arrow table, a list of dicts, or a SELECT (with `params`) over tables the
    connection already has (ingest's temp tables: no copy through Python).
    """
    keys = [key] if isinstance(key, str) else list(key)
    if isinstance(rows, str):
        params = list(params or [])
        present = {d[0] for d in con.execute(f"select * from ({rows}) limit 0", params).description}
        return _insert(con, table, f"({rows})", present, keys, params)
    import pyarrow as pa  # imported when rows come from Python: `psw build` never needs it (~0.2 s)

    batch = rows if isinstance(rows, pa.Table) else _to_arrow(con, table, rows)
    if batch.num_rows == 0:
        return 0
    view = f"_append_rows_{next(_names)}"
    con.register(view, batch)
    try:
        return _insert(con, table, view, set(batch.column_names), keys, [])
    finally:
        con.unregister(view)


def _insert(con, table: str, source: str, present: set[str], keys: list[str], params: list) -> int:
    held = table_columns(con, table)
    json_column, typed, _ = TYPED_JSON.get(table, (None, None, None))
    columns = [(c, t) for c, t in held if c in present and c != typed]
    names = ", ".join(c for c, _ in columns)
    select = ", ".join(f"{c}::json as {c}" if t == "JSON" else c for c, t in columns)
    # the typed attributes, over the JSON column as cast above (rows written without the JSON column
    # are typed by the same rule when the warehouse is next opened: warehouse.schema.ensure_typed_json)
    derive = json_column in present and typed in {c for c, _ in held}
    typed_names, typed_sql = (f", {typed}", f", {typed_json_sql(table)} as {typed}") if derive else ("", "")
    key_list = ", ".join(keys)
    # keeping the first row of each key sorts every row with its payload (6 s of a 1M-pair
    # ingest); a pass over the keys alone says whether any key repeats at all
    repeats = con.execute(f"select count(*) from (select {key_list} from {source} as given "
                          f"group by all having count(*) > 1)", params).fetchone()[0]
    first_of_each_key = f"qualify row_number() over (partition by {key_list}) = 1" if repeats else ""
    return con.execute(f"""
            insert into {table} ({names}{typed_names})
            select {names}{typed_sql} from (
                select {select} from {source} as given
                {first_of_each_key}
            ) as fresh
            where not exists (select 1 from {table} as held
                              where {' and '.join(f'held.{k} = fresh.{k}' for k in keys)})""", params).fetchone()[0]


def _to_arrow(con, table: str, rows: Sequence[dict]) -> pa.Table:
    import pyarrow as pa

    if not rows:
        return pa.table({})
    wanted = [c for c, _ in table_columns(con, table) if any(c in row for row in rows[:1])]
    return pa.Table.from_pylist([{c: row.get(c) for c in wanted} for row in rows])
