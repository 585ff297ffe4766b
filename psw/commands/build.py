"""`psw build`: run `dbt build` (models + tests) against the selected DuckDB file."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from psw.db import DBT_DIR, UserError, db_path


def add_parser(sub) -> None:
    p = sub.add_parser("build", help="derive staging, intermediate and marts with dbt, then run dbt's tests",
                       description="Runs `dbt build` on dbt/ against the warehouse. "
                       "Arguments after the options pass through to dbt, e.g. `psw build --select marts`.")
    p.add_argument("dbt_args", nargs=argparse.REMAINDER, help="passed to dbt build")
    p.set_defaults(func=run)


def dbt_env(db: Path) -> None:
    os.environ["PSW_DB_PATH"] = str(db)
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    os.environ.setdefault("DBT_PROFILES_DIR", str(DBT_DIR))


def run_dbt(db: Path, command: str, extra: list[str]) -> bool:
    from dbt.cli.main import dbtRunner  # slow import: only when building

    dbt_env(db)
    work = db.parent / f".{db.name}.dbt"
    args = [command, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
            "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    result = dbtRunner().invoke(args + [a for a in extra if a != "--"])
    return bool(result.success)


def run(args) -> int:
    db = db_path(args.db)
    if not db.exists():
        raise UserError(f"{db}: no warehouse here yet; run `psw ingest FILE...` first")
    ok = run_dbt(db, "build", args.dbt_args)
    if not ok:
        raise UserError("dbt build failed (see the dbt output above)")
    return 0
