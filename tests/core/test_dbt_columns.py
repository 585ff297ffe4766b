"""psw's columns of a relation (warehouse/dbt_columns.py) are dbt's own: during a real build, every
relation the project asks about, and one that does not exist, gives the same columns both ways."""

from __future__ import annotations

import threading

from dbt.adapters.duckdb.impl import DuckDBAdapter

from psw.cli import main
from tests.conftest import copy_warehouse
from warehouse import dbt_columns

DBTS_OWN = DuckDBAdapter.__dict__["get_columns_in_relation"]   # as collected, before any build installs psw's


def test_every_relation_a_build_reads_has_dbts_columns(pilot_db, tmp_path, monkeypatch):
    assert DBTS_OWN is not dbt_columns.get_columns_in_relation
    psws_own = dbt_columns.get_columns_in_relation
    asked: list[tuple[str, list, list]] = []
    adapters: list = []
    once = threading.Lock()   # dbt's two threads ask side by side

    def both(adapter, relation):
        ours = psws_own(adapter, relation)
        asked.append((relation.render(), ours, DBTS_OWN(adapter, relation)))
        if once.acquire(blocking=False):   # kept for a relation that is not there, asked after the build
            adapters.append((adapter, relation.incorporate(path={"identifier": "psw_no_such_table"})))
        return ours

    monkeypatch.setattr(dbt_columns, "get_columns_in_relation", both)
    db = copy_warehouse(pilot_db, tmp_path / "warehouse.duckdb")
    assert main(["--db", str(db), "build", "--force", "--quiet"]) == 0
    assert len(asked) > 20   # each incremental model's new rows and table (dbt's on_schema_change)
    # not inside a model's transaction: dbt rolls back the transaction of a failed query (DESCRIBE fails).
    # A connection of its own, to the warehouse: psw runs dbt in the file's folder, naming the file bare
    adapter, missing = adapters[0]
    monkeypatch.chdir(db.parent)
    with adapter.connection_named("probe"):
        asked.append((missing.render(), psws_own(adapter, missing), DBTS_OWN(adapter, missing)))
    assert sorted(path.name for path in db.parent.glob("*.duckdb")) == ["warehouse.duckdb"]
    for relation, ours, theirs in asked:
        assert ours == theirs, relation
        assert [type(column) for column in ours] == [type(column) for column in theirs], relation
    missing = [ours for relation, ours, _ in asked if "psw_no_such_table" in relation]
    assert missing == [[]]
    assert all(ours for relation, ours, _ in asked if "psw_no_such_table" not in relation)
    structs = [column for _, ours, _ in asked for column in ours if column.is_struct()]
    assert structs and all(column.fields for column in structs)   # dbt-duckdb's struct fields, parsed alike
