"""The query module on its own: read-only, cached per DB version, polite while a writer holds the lock."""

from __future__ import annotations

import subprocess
import sys
import time

import duckdb
import pytest

from dashboard import queries


@pytest.fixture
def tiny_db(tmp_path, monkeypatch):
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create table template_pair_scores as select 'c1' as cell_id, 50.0 as score")
    con.close()
    monkeypatch.setenv("PSW_DB", str(db))
    monkeypatch.setattr(queries, "LOCK_RETRIES", 2)
    return db


def test_a_rebuild_shows_on_the_next_query(tiny_db):
    assert queries.query("select count(*) as n from template_pair_scores")["n"].iloc[0] == 1
    time.sleep(0.01)
    con = duckdb.connect(str(tiny_db))
    con.execute("insert into template_pair_scores values ('c2', 10.0)")
    con.close()
    assert queries.query("select count(*) as n from template_pair_scores")["n"].iloc[0] == 2


def test_a_writer_holding_the_lock_gets_the_last_result_or_a_busy_message(tiny_db):
    seen = queries.query("select * from template_pair_scores")
    writer = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; "
                               f"con = duckdb.connect({str(tiny_db)!r}); "
                               "con.execute('insert into template_pair_scores values (1, 2)'); "
                               "print('locked', flush=True); time.sleep(30)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "locked"
        assert queries.query("select * from template_pair_scores").equals(seen)  # the last good result
        with pytest.raises(queries.WarehouseBusy):
            queries.query("select cell_id from template_pair_scores where score > 20")
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()


def test_run_sql_refuses_writes(tiny_db):
    with pytest.raises(queries.UserError, match="only SELECT"):
        queries.run_sql("insert into template_pair_scores values ('x', 1)")
    with pytest.raises(queries.UserError):
        queries.run_sql("select * from no_such_table")
    assert len(queries.run_sql("select * from range(100)", limit=7)) == 7
