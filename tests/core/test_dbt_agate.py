"""psw's agate helpers (warehouse/dbt_agate.py) make the tables dbt's make: the empty table every
statement without a result gets, and typed tables of fetched rows (numbers, dates, booleans,
text kept as text), with their type testers made once per distinct arguments."""

from __future__ import annotations

import datetime
import decimal

import agate
from dbt_common.clients import agate_helper

from warehouse import dbt_agate

ROWS = [
    [1, "2026-12-03", "2026-12-03 10:00:00", "true", "null", "", 2.5, None, "005"],
    [2, "2026-12-04", "2026-12-04T10:00:00.5", "false", "x", "y", 3, "2026-12-05", "6"],
]
NAMES = ["n", "day", "at", "flag", "nullish", "blank", "mixed", "maybe_day", "digits"]


def _table(build_type_tester, rows, text_only_columns):
    saved = agate_helper.build_type_tester
    agate_helper.build_type_tester = build_type_tester
    try:
        return agate_helper.table_from_rows(rows, NAMES, text_only_columns)
    finally:
        agate_helper.build_type_tester = saved


def _described(table: agate.Table) -> tuple:
    return (table.column_names, [type(t).__name__ for t in table.column_types],
            [[(type(v).__name__, v) for v in row] for row in table.rows])


def test_the_empty_table_is_dbts():
    dbt_agate.install()
    ours, theirs = dbt_agate.empty_table(), agate.Table(rows=[])   # dbt's empty_table() is agate.Table(rows=[])
    assert _described(ours) == _described(theirs) == ((), [], [])
    assert agate_helper.empty_table is dbt_agate.empty_table


def test_typed_tables_are_dbts_and_their_testers_are_made_once():
    dbt_agate.install()
    dbts = dbt_agate._dbts_build_type_tester
    assert dbts is not dbt_agate.build_type_tester and dbts.__module__ == "dbt_common.clients.agate_helper"
    for text_only in (None, set(), {"digits", "nullish", "blank"}, {"day", "flag"}):
        ours = _table(dbt_agate.build_type_tester, ROWS, text_only)
        theirs = _table(dbts, ROWS, text_only)
        assert _described(ours) == _described(theirs)
    typed = dict(zip(NAMES, _table(dbt_agate.build_type_tester, ROWS, {"digits"}).rows[0]))
    assert typed["day"] == datetime.date(2026, 12, 3) and typed["n"] == decimal.Decimal(1)
    assert typed["digits"] == "005" and typed["flag"] is True   # a text column keeps its text
    # one tester per distinct (text columns, null strings), in any order of the columns
    assert dbt_agate.build_type_tester(["a", "b"], ()) is dbt_agate.build_type_tester(("b", "a"), ())
    assert dbt_agate.build_type_tester(["a"], ()) is not dbt_agate.build_type_tester(["a"])
    assert dbt_agate.build_type_tester(["a"], ()) is not dbt_agate.build_type_tester(["b"], ())
