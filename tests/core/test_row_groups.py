"""psw's writers and dbt write row groups of warehouse.db.ROW_GROUP_ROWS (DuckDB splits a query by
row group: at its default a 100k-pair table ran on one core), a big file read in parallel keeps
every line's number, and a warehouse file's name stays its catalog's name (or is refused, in one
line, where that name would clash)."""

from __future__ import annotations

import json
import math

import duckdb
import pytest

from tests.conftest import REFERENCE
from ingest import loader
from psw.cli import main
from warehouse.db import ROW_GROUP_ROWS, connect
from warehouse.dbt_runner import profile_target

PILOT = REFERENCE / "v2_pilot_seed23_examples.jsonl"


def _row_groups(con, table: str) -> int:
    return con.execute(f"select count(distinct row_group_id) from pragma_storage_info('{table}')").fetchone()[0]


def test_a_writers_tables_are_split_into_row_groups_of_the_projects_size(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    n = 2 * ROW_GROUP_ROWS + 5
    with connect(db) as con:
        assert con.execute("select current_database()").fetchone()[0] == "warehouse"
        con.execute(f"create table t as select range as i from range({n})")
        con.execute("insert into t select range from range(10)")  # a later append, as an ingest's
    with duckdb.connect(str(db), read_only=True) as con:
        assert _row_groups(con, "t") == math.ceil((n + 10) / ROW_GROUP_ROWS) == 3
        assert con.execute("select count(*) from t").fetchone()[0] == n + 10


def _numbered_file(path, n_lines: int, marked: dict[int, int] = {}) -> None:
    """The pilot's successful pairs repeated to n_lines lines, line k's template ending `[line k]`
    (its own cell), and line k of `marked` given axis_delta marked[k] (out of range: a reject)."""
    ok = [r for r in map(json.loads, PILOT.open()) if not r.get("error")]
    with path.open("w") as out:
        for k in range(1, n_lines + 1):
            row = {**ok[k % len(ok)], "template": f"{ok[k % len(ok)]['template']} [line {k}]"}
            if k in marked:
                row["axis_delta"] = marked[k]
            out.write(json.dumps(row) + "\n")


@pytest.fixture
def small_buffers(monkeypatch):
    """DuckDB's reader with 64 kB buffers: it splits even a small file between threads (by buffer)."""
    monkeypatch.setattr(loader, "MAX_FAST_LINE_BYTES", 32 << 10)


def test_a_file_read_in_parallel_keeps_every_lines_number(psw, tmp_path, small_buffers):
    path = tmp_path / "big_examples.jsonl"  # ~7 MB: ~100 buffers
    _numbered_file(path, 3000)
    assert psw("ingest", path)[0] == 0
    with duckdb.connect(str(psw.db), read_only=True) as con:
        misplaced = con.execute(r"""select count(*), count(*) filter (where line_no <> regexp_extract(
                                   fields.template, '\[line (\d+)\]$', 1)::integer) from raw.exported_pairs""").fetchone()
    assert misplaced == (3000, 0)


def test_a_file_read_in_parallel_names_each_bad_line_by_its_number(psw, tmp_path, small_buffers):
    marked = {2: 101, 1_001: 102, 1_999: 103, 2_500: 104, 3_000: 105}
    path = tmp_path / "big_examples.jsonl"
    _numbered_file(path, 3000, marked)
    rc, _, err = psw("ingest", path)
    assert rc == 2
    named = [line for line in err.splitlines() if "expected a number in -8..8" in line]
    assert named == [f"{path}:{k}: field axis_delta: expected a number in -8..8, got {v}" for k, v in marked.items()]


@pytest.mark.parametrize("name, target", [("my warehouse.duckdb", "plain"), ("select.duckdb", "plain"),
                                          ("pilot.v2.duckdb", "local")])
def test_a_warehouse_named_as_a_user_likes_builds(tmp_path, capsys, name, target):
    db = tmp_path / name
    assert profile_target(db) == target
    assert main(["--db", str(db), "ingest", str(PILOT)]) == 0
    assert main(["--db", str(db), "build", "--select", "+int_exported_pairs"]) == 0
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from intermediate.int_exported_pairs").fetchone()[0] == 64


@pytest.mark.parametrize("name", ["raw.duckdb", "main.duckdb", "Intermediate.db", "memory"])
def test_a_warehouse_whose_name_clashes_is_refused_in_one_line(tmp_path, capsys, name):
    db = tmp_path / name
    assert main(["--db", str(db), "ingest", str(PILOT)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "rename the file" in err and str(db) in err
    assert not db.exists()


def test_a_build_that_spills_to_disk_builds(psw, tmp_path, monkeypatch):
    """dbt-duckdb SETs a profile's `settings` on every node's cursor, and DuckDB refuses to set
    temp_directory again once a query has spilled to it: the profile gives it when the connection
    opens (config_options). At a 64MB cap a 3,000-pair build spills; with temp_directory among the
    settings this build failed at the node after the first spill ("Cannot switch temporary
    directory"), as a 1M-pair build did at the default cap."""
    path = tmp_path / "big_examples.jsonl"
    _numbered_file(path, 3000)
    assert psw("ingest", path)[0] == 0
    monkeypatch.setenv("PSW_MEMORY_LIMIT", "64MB")
    rc, _, err = psw("build")
    assert rc == 0, err
    with duckdb.connect(str(psw.db), read_only=True) as con:
        assert con.execute("select count(*) from main.examples").fetchone()[0] == 3000


@pytest.mark.parametrize("name", ["warehouse.duckdb", "my warehouse.duckdb"])
def test_dbts_connection_opens_with_psws_memory_cap_and_checkpoint_threshold(psw, tmp_path, monkeypatch, name):
    """Both profile outputs give DuckDB its settings when dbt's connection opens (config_options:
    not SET again on each node's cursor); PSW_MEMORY_LIMIT reaches dbt's DuckDB as psw's own."""
    from warehouse import dbt_runner

    db = tmp_path / name
    assert main(["--db", str(db), "ingest", str(REFERENCE / "v2_pilot_seed23_examples.jsonl")]) == 0
    monkeypatch.setenv("PSW_MEMORY_LIMIT", "77MB")
    run = dbt_runner.invoke(db, ["show", "--log-level", "none", "--inline",
                                 "select current_setting('memory_limit') as m, current_setting('checkpoint_threshold') as c"])
    assert run.ok and [tuple(r.agate_table.rows[0].values()) for r in run.results] == [("73.4 MiB", "953.6 MiB")]


def test_running_out_of_memory_is_one_line_naming_the_cap(psw, tmp_path, monkeypatch):
    path = tmp_path / "examples.jsonl"
    _numbered_file(path, 10)
    assert psw("ingest", path)[0] == 0
    monkeypatch.setenv("PSW_MEMORY_LIMIT", "1MB")
    rc, out, err = psw("build")
    assert rc == 2 and "Traceback" not in err
    assert err.startswith("error: DuckDB ran out of memory under psw's cap of 1MB (PSW_MEMORY_LIMIT): Out of Memory")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("value", ["abc", "5", "2 parsecs"])
def test_a_memory_cap_duckdb_cannot_read_is_one_line_and_writes_nothing(psw, tmp_path, monkeypatch, value):
    path = tmp_path / "examples.jsonl"
    _numbered_file(path, 3)

    def refused(*command):
        monkeypatch.setenv("PSW_MEMORY_LIMIT", value)
        rc, _, err = psw(*command)
        monkeypatch.delenv("PSW_MEMORY_LIMIT")
        assert rc == 2 and err.startswith(f"error: PSW_MEMORY_LIMIT={value!r}: not a memory size DuckDB takes ("), err
        assert len(err.strip().splitlines()) == 1

    refused("ingest", path)
    assert not psw.db.exists()   # no warehouse made
    monkeypatch.setenv("PSW_MEMORY_LIMIT", " ")   # blank: the default
    assert psw("ingest", path)[0] == 0
    for command in (["build"], ["sql", "select 1"]):
        refused(*command)
    with duckdb.connect(str(psw.db), read_only=True) as con:   # the refused build ran nothing
        assert not con.execute("select count(*) from information_schema.tables where table_name = 'examples'").fetchone()[0]
