"""Small helpers shared by the security tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]


def one_line_error(rc: int, err: str, *needles: str) -> None:
    assert rc == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


def rows(db: Path, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def every_text(db: Path) -> str:
    """Every value of every table of a warehouse, as one text."""
    with duckdb.connect(str(db), read_only=True) as con:
        parts = []
        for schema, table in con.execute("select table_schema, table_name from information_schema.tables").fetchall():
            parts += [repr(r) for r in con.execute(f'select * from "{schema}"."{table}"').fetchall()]
    return "\n".join(parts)


def psw_process(*args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    """`python -m psw.cli ARGS` in its own process (DuckDB locks are per process)."""
    return subprocess.Popen([sys.executable, "-m", "psw.cli", *map(str, args)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


HOLD_LOCK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def hold_write_lock(db: Path, seconds: float) -> subprocess.Popen:
    """Another process that holds the warehouse's write lock for `seconds` (started when this returns)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db), str(seconds)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
