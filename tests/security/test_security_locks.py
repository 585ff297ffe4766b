"""Attack 3: a long query on the SQL page blocked writers, which then failed with a traceback.
Dashboard queries stop at a time limit; writers wait for a lock (bounded) and say so."""

from __future__ import annotations

import threading
import time

import pytest

from dashboard import queries
from security_helpers import hold_write_lock, one_line_error, psw_process, rows, stop
from tests.conftest import REFERENCE, Psw
from warehouse.errors import UserError

SLOW = "select count(*) from range(2000000000) as t(x) where hash(x) % 7 = 3"   # ~25 s unchecked
TEMPLATES = REFERENCE / "templates_v2_candidates.txt"


@pytest.fixture
def dashboard_db(pilot_copy, monkeypatch):
    monkeypatch.setenv("PSW_DB", str(pilot_copy))
    monkeypatch.setattr(queries, "CACHE", False)
    return pilot_copy


def test_a_long_dashboard_query_stops_at_the_time_limit(dashboard_db, monkeypatch):
    monkeypatch.setenv("PSW_SQL_TIMEOUT_S", "1")
    started = time.monotonic()
    with pytest.raises(UserError, match=r"stopped after 1 s.*PSW_SQL_TIMEOUT_S"):
        queries.run_sql(SLOW)
    assert time.monotonic() - started < 8
    assert len(queries.run_sql("select * from examples", limit=2)) == 2    # the page still works


def test_the_dashboard_row_cap(dashboard_db, monkeypatch):
    monkeypatch.setenv("PSW_SQL_MAX_ROWS", "7")
    assert len(queries.run_sql("select * from range(100)", limit=50)) == 7


def test_a_writer_waits_out_a_long_dashboard_query(dashboard_db, monkeypatch):
    monkeypatch.setenv("PSW_SQL_TIMEOUT_S", "3")
    outcome = {}

    def dashboard_query():
        try:
            queries.run_sql(SLOW)
        except UserError as exc:
            outcome["error"] = str(exc)

    reader = threading.Thread(target=dashboard_query)
    reader.start()
    time.sleep(0.5)                          # the query holds the file now
    started = time.monotonic()
    ingest = psw_process("--db", dashboard_db, "ingest", "--kind", "templates", TEMPLATES,
                         env={"PSW_LOCK_WAIT_S": "30"})
    out, err = ingest.communicate(timeout=60)
    waited = time.monotonic() - started
    reader.join(30)
    assert ingest.returncode == 0, err
    assert "Traceback" not in err and waited < 15
    assert "stopped after 3 s" in outcome["error"]


def test_a_writer_meeting_a_lock_waits_then_writes(pilot_copy, capsys, monkeypatch):
    monkeypatch.setenv("PSW_LOCK_WAIT_S", "30")
    holder = hold_write_lock(pilot_copy, 2)
    try:
        rc, out, err = Psw(pilot_copy, capsys)("ingest", "--kind", "templates", TEMPLATES)
    finally:
        stop(holder)
    assert rc == 0, err
    assert "locked by another process; waiting up to 30 s" in err and "Traceback" not in err


def test_a_writer_gives_up_after_the_wait_with_one_line(pilot_copy, capsys, monkeypatch):
    monkeypatch.setenv("PSW_LOCK_WAIT_S", "2")
    before = rows(pilot_copy, "select count(*) from raw.loads")
    holder = hold_write_lock(pilot_copy, 60)
    try:
        started = time.monotonic()
        rc, out, err = Psw(pilot_copy, capsys)("ingest", "--kind", "templates", TEMPLATES)
        waited = time.monotonic() - started
    finally:
        stop(holder)
    waiting, error = err.splitlines()
    assert "waiting up to 2 s" in waiting and 1.5 < waited < 10
    one_line_error(rc, error + "\n", "locked by another process", "PSW_LOCK_WAIT_S")
    assert rows(pilot_copy, "select count(*) from raw.loads") == before


def test_build_waits_for_a_lock_too(pilot_copy, capsys, monkeypatch):
    monkeypatch.setenv("PSW_LOCK_WAIT_S", "30")
    holder = hold_write_lock(pilot_copy, 2)
    try:
        rc, out, err = Psw(pilot_copy, capsys)("build", "--select", "stg_raw__templates")
    finally:
        stop(holder)
    assert rc == 0, out + err
    assert "waiting up to 30 s" in err
