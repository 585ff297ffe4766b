"""psw's source for dbt's behavior flags (warehouse/dbt_flags.py) names the module dbt's own
`inspect.stack()` walk names: for a flag made here, made by a module's function, made from code
without a file (exec), and for the flags the DuckDB adapter registers in a real build."""

from __future__ import annotations

import sys
import types

from dbt_common.behavior_flags import BehaviorFlagRendered

from warehouse import dbt_flags

DBTS_OWN = BehaviorFlagRendered.__dict__["_default_source"]   # as collected, before any build installs psw's
FLAG = {"name": "psw_test_flag", "default": False, "description": "a flag for this test"}


def _source() -> str:
    return BehaviorFlagRendered(dict(FLAG), {})._behavior_change_event.flag_source


def _both(make) -> tuple[str, str]:
    saved = BehaviorFlagRendered.__dict__["_default_source"]
    try:
        BehaviorFlagRendered._default_source = DBTS_OWN
        theirs = make()
        dbt_flags.install()
        return theirs, make()
    finally:
        BehaviorFlagRendered._default_source = saved


def test_a_flag_made_here_is_named_by_this_module():
    assert _both(_source) == (__name__, __name__)


def test_a_flag_made_in_code_without_a_file_is_named_as_dbt_names_it(monkeypatch):
    scratch = types.ModuleType("psw_scratch")
    monkeypatch.setitem(sys.modules, "psw_scratch", scratch)   # a loaded module, but not the code's file
    scratch.__dict__.update(BehaviorFlagRendered=BehaviorFlagRendered, FLAG=FLAG)
    exec("def make():\n    return BehaviorFlagRendered(dict(FLAG), {})._behavior_change_event.flag_source\n",
         scratch.__dict__)
    theirs, ours = _both(scratch.make)
    assert theirs == ours == __name__   # the exec'd frame has no module file: the next frame's module


def test_the_adapters_flags_are_named_as_dbt_names_them():
    """As an adapter's __init__ sets them (dbt.adapters.base.impl: `self.behavior = DEFAULT_...`)."""
    from dbt.adapters.base.impl import DEFAULT_BASE_BEHAVIOR_FLAGS, BaseAdapter
    from dbt.adapters.duckdb.impl import DuckDBAdapter

    def flags() -> list[str]:
        adapter = DuckDBAdapter.__new__(DuckDBAdapter)   # no connection: only the flags are made
        adapter.config = None   # no project flags (as in `dbt debug`)
        BaseAdapter.behavior.fset(adapter, [dict(flag) for flag in DEFAULT_BASE_BEHAVIOR_FLAGS])
        return [flag._behavior_change_event.flag_source for flag in adapter.behavior._flags]

    theirs, ours = _both(flags)
    assert theirs == ours and theirs and set(theirs) == {"dbt.adapters.base.impl"}
