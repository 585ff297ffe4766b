"""`psw build`: run `dbt build` (models + data tests) against the selected DuckDB file.

dbt's unit tests check the SQL, not the data, so a build skips them unless asked
(`--unit-tests`); the test suite asks, so every CI run checks them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from psw.db import DBT_DIR, UserError, db_path


def add_parser(sub) -> None:
    p = sub.add_parser("build", help="derive staging, intermediate and marts with dbt, then run dbt's tests",
                       description="Runs `dbt build` on dbt/ against the warehouse. "
                       "Arguments after the options pass through to dbt, e.g. `psw build --select marts` "
                       "or `psw build --full-refresh` (recompute the incremental models from scratch).")
    p.add_argument("--unit-tests", action="store_true",
                   help="also run dbt's unit tests (the formulas on fixed rows; they do not read the warehouse)")
    # everything psw does not know is passed to dbt, in order (see psw.cli.main)
    p.set_defaults(func=run, passthrough=[])


def run_dbt(db: Path, command: str, extra: list[str]) -> bool:
    """Run dbt in its own process: it holds the DuckDB write lock only while it runs."""
    env = {**os.environ, "PSW_DB_PATH": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "DO_NOT_TRACK": "1"}
    work = db.parent / f".{db.name}.dbt"
    dbt = Path(sys.executable).with_name("dbt")
    args = [str(dbt), command, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
            "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    return subprocess.run(args + [a for a in extra if a != "--"], env=env).returncode == 0


def run(args) -> int:
    db = db_path(args.db)
    if not db.exists():
        raise UserError(f"{db}: no warehouse here yet; run `psw ingest FILE...` first")
    extra = list(args.passthrough)
    if not args.unit_tests:
        extra += ["--exclude-resource-type", "unit_test"]
    ok = run_dbt(db, "build", extra)
    if not ok:
        raise UserError("dbt build failed (see the dbt output above)")
    return 0
