"""`psw build`: dbt runs in the warehouse's folder on the file's bare name, so a new
warehouse starts from the project parse saved by an earlier build (no full parse)."""

from __future__ import annotations

import shutil

from psw.cli import main


def test_a_new_warehouse_reuses_the_saved_parse(pilot_db, tmp_path):
    # pilot_db (also a warehouse.duckdb) was built before: its parse is in the cache
    fresh = tmp_path / "elsewhere" / "warehouse.duckdb"
    fresh.parent.mkdir()
    shutil.copy(pilot_db, fresh)
    assert main(["--db", str(fresh), "build", "--select", "template_pair_scores"]) == 0
    log = (fresh.parent / ".warehouse.duckdb.dbt" / "logs" / "dbt.log").read_text()
    assert "Partial parsing enabled" in log
    assert "Unable to do partial parsing" not in log
