"""dbt's agate tables without building their type testers again for each one.

dbt hands every statement's result to Jinja as an agate table: `empty_table()` for each statement
that fetches nothing (BEGIN, COMMIT, each CREATE: ~360 a pilot build) and `table_from_rows` for a
fetched result. Each makes a fresh `agate.TypeTester` (dbt_common.clients.agate_helper), whose
Date and DateTime types each build a parsedatetime `Calendar` with its locale constants:
~4% of a pilot build's Python in a warm process (py-spy, 2026-12-03), on the GIL the other build
thread waits for. A TypeTester keeps nothing of the tables it types (`run` reads its types and
returns new column types); dbt itself shares one, `DEFAULT_TYPE_TESTER`, across its threads.

`install()` makes `empty_table` use one shared tester and `build_type_tester` return one tester per
(text columns, null strings), built by dbt's own function the first time; the tables are the same
(tests/core/test_dbt_agate.py compares them with dbt's).
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

_testers: dict[tuple, Any] = {}
_dbts_build_type_tester = None
_empty_tester = None


def build_type_tester(text_columns: Iterable[str], string_null_values: Optional[Iterable[str]] = ("null", "")):
    """dbt's `build_type_tester(text_columns, string_null_values)`, made once per distinct arguments."""
    key = (frozenset(text_columns), None if string_null_values is None else tuple(string_null_values))
    tester = _testers.get(key)
    if tester is None:
        tester = _testers[key] = _dbts_build_type_tester(key[0], string_null_values)
    return tester


def empty_table():
    """dbt's `empty_table()`: an agate table of no rows and no columns."""
    import agate

    return agate.Table(rows=[], column_types=_empty_tester)


def install() -> None:
    """Use `build_type_tester` and `empty_table` in dbt_common's agate helper for this process."""
    global _dbts_build_type_tester, _empty_tester
    import agate
    from dbt_common.clients import agate_helper

    if _dbts_build_type_tester is None:
        _dbts_build_type_tester = agate_helper.build_type_tester
        _empty_tester = agate.TypeTester()   # what agate.Table makes when given no column types
    agate_helper.build_type_tester = build_type_tester
    agate_helper.empty_table = empty_table
