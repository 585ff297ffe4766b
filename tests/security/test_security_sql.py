"""Attack 2: SQL typed into `psw sql` or the dashboard's SQL page read local files, the
environment and the network. Both now run sandboxed: the warehouse, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import queries
from security_helpers import ROOT, one_line_error
from tests.conftest import Psw
from warehouse.errors import UserError

CANARY = "canary-4f1d9a7e-secret-value"
ATTACKS = [
    "select * from read_text('/proc/self/environ')",
    "select * from read_csv('/etc/passwd')",
    "select * from glob('/root/*')",
    "select * from read_parquet('http://127.0.0.1:9/x.parquet')",
    "select * from read_blob('/etc/hostname')",
    "select * from duckdb_secrets()",
]
STATEMENTS = ["attach '/tmp/x.duckdb' as x", "set enable_external_access = true", "install httpfs",
              "load httpfs", "pragma version", "copy examples to '/tmp/x.csv'"]


@pytest.fixture(autouse=True)
def canary(monkeypatch):
    monkeypatch.setenv("PSW_CANARY_API_KEY", CANARY)


@pytest.mark.parametrize("query", ATTACKS)
def test_psw_sql_sees_the_warehouse_only(pilot_db, capsys, query):
    rc, out, err = Psw(pilot_db, capsys)("sql", query, "--format", "csv")
    one_line_error(rc, err, "refused", "warehouse only")
    assert CANARY not in out + err and "root:" not in out


@pytest.mark.parametrize("query", STATEMENTS)
def test_psw_sql_refuses_every_other_statement(pilot_db, capsys, query):
    rc, out, err = Psw(pilot_db, capsys)("sql", query)
    one_line_error(rc, err, "query:")


@pytest.mark.parametrize("query", ATTACKS)
def test_dashboard_sql_sees_the_warehouse_only(pilot_db, monkeypatch, query):
    monkeypatch.setenv("PSW_DB", str(pilot_db))
    monkeypatch.setattr(queries, "CACHE", False)
    with pytest.raises(UserError, match="refused"):
        queries.run_sql(query)
    assert len(queries.run_sql("select * from examples", limit=3)) == 3   # the warehouse itself still reads


def test_a_shared_link_cannot_read_the_openers_environment(pilot_db, monkeypatch):
    """The SQL page keeps its query in the URL: opening a link runs it, on the opener's machine."""
    monkeypatch.setenv("PSW_DB", str(pilot_db))
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.query_params["q"] = "select content from read_text('/proc/self/environ')"
    at.run()
    at.switch_page("views/sql.py").run()
    assert not at.exception
    assert "Refused" in at.error[0].value and "warehouse only" in at.error[0].value
    assert len(at.dataframe) == 0
    shown = " ".join(str(e.value) for e in [*at.markdown, *at.error, *at.text_area, *at.caption])
    assert CANARY not in shown


def test_sandbox_cannot_be_switched_off_from_inside(pilot_db, monkeypatch):
    from warehouse.db import connect_user_sql

    con = connect_user_sql(Path(pilot_db))
    try:
        with pytest.raises(Exception, match="locked"):
            con.execute("set enable_external_access = true")
        with pytest.raises(Exception, match="disabled by configuration"):
            con.execute("select * from read_text('/etc/hostname')")
    finally:
        con.close()
