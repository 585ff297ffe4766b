"""The `psw` program leaves without Python's teardown after a command that ran dbt (psw/cli.py,
`entry`): what the command wrote is all there (its buffered output, the exit handlers' work, dbt's log
file, the warehouse with no write-ahead log left behind), and the exit status is the command's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import copy_warehouse

ROOT = Path(__file__).resolve().parents[2]


def _psw(db: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**{name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"},   # buffered pipes
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    return subprocess.run([sys.executable, "-m", "psw.cli", "--db", str(db), *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)


def test_a_build_leaves_everything_written_and_its_status(pilot_db, tmp_path):
    db = copy_warehouse(pilot_db, tmp_path / "warehouse.duckdb")
    built = _psw(db, "build", "--force", "--select", "int_measurement_versions+")
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith("built ") and built.stdout.endswith("\n")
    log = (db.parent / f".{db.name}.dbt" / "logs" / "dbt.log").read_text()
    assert log.endswith("\n") and any("Command `cli build` succeeded" in line for line in log.splitlines()[-3:])
    assert not db.with_name(db.name + ".wal").exists()   # dbt's and psw's connections closed: checkpointed
    assert _psw(db, "sql", "select count(*) as n from template_pair_scores").returncode == 0

    failed = _psw(db, "build", "--force", "--select", "int_pairs_scored", "--vars", '{"strict_min_axis_delta": "x"}')
    assert failed.returncode == 2
    assert failed.stderr.splitlines()[-1].startswith("error: dbt build failed: model int_pairs_scored")
    assert not db.with_name(db.name + ".wal").exists()


def test_leaving_flushes_what_was_written_and_runs_the_exit_handlers():
    code = ("import atexit, sys\nfrom psw.cli import _leave\natexit.register(lambda: print('handler ran'))\n"
            "sys.stdout.write('held in the buffer; ')\n_leave(3)\nprint('never')")
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}   # a buffered pipe
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert (run.returncode, run.stdout) == (3, "held in the buffer; handler ran\n")
