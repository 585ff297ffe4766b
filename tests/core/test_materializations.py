"""The project's own `table` and `view` materializations (dbt/macros/materializations.sql): a model
may change between a view and a table across releases and a build replaces it; a model that sets a
config only dbt-duckdb's materializations handle fails to build with one line naming the model and
the config, instead of silently building without it."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from dbt.cli.main import dbtRunner

from ingest.typed import ensure_current
from warehouse.db import DBT_DIR, connect
from warehouse.dbt_runner import _release_warehouse

MODEL = "stg_raw__measurements"  # a staging view that reads one raw table


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the dbt project and an empty warehouse with the raw tables, side by side."""
    root = tmp_path_factory.mktemp("materializations")
    shutil.copytree(DBT_DIR, root / "dbt", ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    with connect(root / "warehouse.duckdb") as con:
        ensure_current(con)
    return root


def _run(project: Path, model_sql: str, monkeypatch) -> tuple[bool, str]:
    """`dbt run --select MODEL` in the copied project, with MODEL's SQL replaced."""
    path = next((project / "dbt" / "models").rglob(f"{MODEL}.sql"))
    path.write_text(model_sql)
    monkeypatch.setenv("PSW_DB_PATH", str(project / "warehouse.duckdb"))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    dbt_dir = str(project / "dbt")
    result = dbtRunner().invoke(["run", "--select", MODEL, "--project-dir", dbt_dir, "--profiles-dir", dbt_dir,
                                 "--quiet", "--no-write-json"])
    _release_warehouse()  # dbt-duckdb keeps the file open in this process
    messages = " ".join(str(r.message) for r in (getattr(result.result, "results", None) or []))
    return result.success, messages


def _kind(project: Path) -> str:
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        return con.execute("select table_type from information_schema.tables where table_name = ?",
                           [MODEL]).fetchone()[0]


def test_a_model_turns_from_view_to_table_and_back(project, monkeypatch):
    original = next((project / "dbt" / "models").rglob(f"{MODEL}.sql")).read_text()
    assert _run(project, original, monkeypatch)[0]
    assert _kind(project) == "VIEW"
    assert _run(project, "{{ config(materialized='table') }}\n" + original, monkeypatch)[0]
    assert _kind(project) == "BASE TABLE"
    assert _run(project, original, monkeypatch)[0]
    assert _kind(project) == "VIEW"
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        assert not con.execute("select table_name from information_schema.tables "
                               "where table_name like '%\\_\\_dbt\\_%' escape '\\'").fetchall()


@pytest.mark.parametrize("config, named", [("grants={'select': ['reader']}", "config grants"),
                                           ("sql_header='set threads = 1;'", "config sql_header"),
                                           ("materialized='table', indexes=[{'columns': ['measurement_id']}]",
                                            "config indexes")])
def test_a_config_these_materializations_do_not_handle_is_refused(project, monkeypatch, config, named):
    original = next((project / "dbt" / "models").rglob(f"{MODEL}.sql")).read_text()
    ok, message = _run(project, f"{{{{ config({config}) }}}}\n" + original, monkeypatch)
    _run(project, original, monkeypatch)
    assert not ok
    assert f"{MODEL}: {named} is not handled by this project's materializations" in message


def test_dbt_writes_row_groups_of_the_projects_size(project, monkeypatch):
    # dbt/profiles.yml attaches the file with warehouse.db.ROW_GROUP_ROWS (DuckDB splits a scan by
    # row group: at its default size a 100k-pair table was one, read on one core)
    from warehouse.db import ROW_GROUP_ROWS

    n = 2 * ROW_GROUP_ROWS + 1
    macro = project / "dbt" / "macros" / "zz_test_rows.sql"
    macro.write_text("{% macro zz_test_rows(n) %}{% do run_query('create or replace table ' ~ target.database ~ '.main.zz_rows as "
                     "select range as i from range(' ~ n ~ ')') %}{% endmacro %}")
    monkeypatch.setenv("PSW_DB_PATH", str(project / "warehouse.duckdb"))
    dbt_dir = str(project / "dbt")
    try:
        result = dbtRunner().invoke(["run-operation", "zz_test_rows", "--args", f"{{n: {n}}}", "--project-dir",
                                     dbt_dir, "--profiles-dir", dbt_dir, "--quiet", "--no-write-json"])
        _release_warehouse()
        assert result.success, result.exception
    finally:
        macro.unlink()
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from main.zz_rows").fetchone()[0] == n
        assert con.execute("select count(distinct row_group_id) from pragma_storage_info('main.zz_rows')").fetchone()[0] == 3
