"""Issue 23, items 7, 9 and 11 (csv): `psw sql` stops on Ctrl-C and after --timeout, shows no
settings or secrets, escapes terminal control characters in its table, and writes nested values
to CSV as JSON text."""

from __future__ import annotations

import json
import os
import signal
import time

import duckdb
import pytest

from security_helpers import one_line_error, psw_process, wait_for
from tests.conftest import Psw

LONG_QUERY = "select count(*) from range(100000000000) a, range(1000) b where a.range * b.range = -1"
HOSTILE = "a\x1b]0;pwned\x07b\x1b[2J\x1b]52;c;ZXZpbA==\x07\u202eevil\x9b"


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table t as select ? as txt, [1, 2] as l, {'a': 'x,y'} as s, "
                    "map(['k'], ['v']) as m, [{'p': 1}] as ls", [HOSTILE])
    return path


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_sigint_stops_a_long_query_within_a_second(db):
    proc = psw_process("--db", db, "sql", LONG_QUERY, "--timeout", "0")
    try:
        assert wait_for(lambda: cpu_seconds(proc.pid) > 4.0, 60)   # imports done, the query running
        assert proc.poll() is None
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        assert time.monotonic() - sent < 1.5, "still running after SIGINT"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err, err


def test_timeout_stops_a_long_query(db, capsys):
    started = time.monotonic()
    rc, _, err = Psw(db, capsys)("sql", LONG_QUERY, "--timeout", "0.5")
    assert time.monotonic() - started < 10
    one_line_error(rc, err, "stopped after 0.5 s", "--timeout")


def test_timeout_must_be_a_number_of_seconds(db, capsys):
    rc, _, err = Psw(db, capsys)("sql", "select 1", "--timeout", "-1")
    one_line_error(rc, err, "--timeout")


@pytest.mark.parametrize("query", [
    "select * from duckdb_settings()",
    "select value from duckdb_settings() where name = 'secret_directory'",
    "select current_setting('secret_directory')",
    "select * from system.main.duckdb_settings()",
    'select * from "DUCKDB_SETTINGS"()',
    "select * from (from which_secret('s3://x/y', 's3'))",
    "select getenv('HOME')",
    "select * from duckdb_extensions()",
    "explain select * from duckdb_temporary_files()",
])
def test_settings_and_secrets_functions_are_refused(db, capsys, query):
    rc, out, err = Psw(db, capsys)("sql", query)
    one_line_error(rc, err, "refused", "warehouse only")
    assert "stored_secrets" not in out + err


def test_words_that_name_settings_are_still_data(db, capsys):
    rc, out, _ = Psw(db, capsys)("sql", "select 'duckdb_settings()' as duckdb_settings, 1 where 'x' not like '%setting%'")
    assert rc == 0 and "duckdb_settings()" in out


def test_table_output_escapes_control_characters(db, capsys):
    rc, out, err = Psw(db, capsys)("sql", "select txt as \"col\x1b[31m\" from t")
    assert rc == 0, err
    assert not any(ch in out for ch in "\x1b\x07\x9b\u202e")
    assert "a\\x1b]0;pwned\\x07b\\x1b[2J" in out and "\\u202eevil\\x9b" in out and "col\\x1b[31m" in out


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_files_for_scripts_stay_exact(db, capsys, tmp_path, fmt):
    out = tmp_path / f"q.{fmt}"
    rc, _, err = Psw(db, capsys)("sql", "select txt from t", "--format", fmt, "--out", out)
    assert rc == 0, err
    if fmt == "parquet":
        import pyarrow.parquet as pq
        assert pq.read_table(out).column("txt").to_pylist() == [HOSTILE]
    elif fmt == "json":
        assert json.loads(out.read_text(encoding="utf-8")) == [{"txt": HOSTILE}]
    else:
        assert HOSTILE in out.read_text(encoding="utf-8")


def test_csv_writes_nested_values_as_json_text(db, capsys):
    rc, out, err = Psw(db, capsys)("sql", "select l, s, m, ls from t", "--format", "csv")
    assert rc == 0 and "Traceback" not in err, err
    import csv
    import io
    header, row = list(csv.reader(io.StringIO(out)))
    assert header == ["l", "s", "m", "ls"]
    assert [json.loads(v) for v in row] == [[1, 2], {"a": "x,y"}, {"k": "v"}, [{"p": 1}]]


def test_out_is_written_whole_or_not_at_all(db, capsys, tmp_path):
    out = tmp_path / "q.csv"
    out.write_text("before\n")
    rc, _, err = Psw(db, capsys)("sql", LONG_QUERY, "--format", "csv", "--out", out, "--timeout", "0.3")
    assert rc == 2 and out.read_text() == "before\n", err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.csv", "w.duckdb"]
