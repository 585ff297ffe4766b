"""`psw build`: run `dbt build` (models + data tests) against the selected DuckDB file.

dbt's unit tests check the SQL, not the data, so a build skips them unless asked
(`--unit-tests`); the test suite asks, so every CI run checks them.

A build that would redo the last successful one (same raw tables, dbt project, versions
and arguments: warehouse/build_state.py) is skipped: its models and tests already ran on
exactly that data and SQL. When only raw tables changed, a plain `psw build` builds the
models that read them (`--select source:<table>+`) and their tests; the rest are current.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from warehouse import build_state
from warehouse.build_output import BuildOutput
from warehouse.db import DBT_DIR, MEMORY_LIMIT, UserError, connect, db_path
from warehouse.schema import ensure_raw_schema


def add_parser(sub) -> None:
    p = sub.add_parser("build", help="derive staging, intermediate and marts with dbt, then run dbt's tests",
                       description="Runs `dbt build` on dbt/ against the warehouse. "
                       "Arguments after the options pass through to dbt, e.g. `psw build --select marts` "
                       "or `psw build --full-refresh` (recompute the incremental models from scratch). "
                       "dbt runs in the warehouse's folder: give file paths for dbt as absolute paths.")
    p.add_argument("--unit-tests", action="store_true",
                   help="also run dbt's unit tests (the formulas on fixed rows; they do not read the warehouse)")
    p.add_argument("--force", action="store_true",
                   help="build everything even when nothing changed since the last successful build")
    p.add_argument("--verbose", action="store_true",
                   help="stream dbt's own log instead of one progress line and a summary")
    # everything psw does not know is passed to dbt, in order (see psw.cli.main)
    p.set_defaults(func=run, passthrough=[])


PARSE_FILE = "partial_parse.msgpack"
PARSE_CACHE = DBT_DIR / "target" / "parse-by-file-name"  # in dbt's own (git-ignored) target folder


def run_dbt(db: Path, command: str, extra: list[str], output: BuildOutput | None = None) -> bool:
    """Run dbt in its own process: it holds the DuckDB write lock only while it runs.

    dbt runs in the warehouse's folder and is given the file's bare name, so the profile
    (and with it dbt's parse of the project) is the same for every warehouse file of that
    name. A warehouse's first build then starts from the parse saved by an earlier build of
    any `warehouse.duckdb` (dbt re-checks it against the project files and reparses what
    changed) instead of a full parse of ~5 s. Target and logs stay beside each warehouse.
    Given an `output`, dbt's events go to it (progress and summary) instead of dbt's log.
    (dbt in-process, through dbtRunner, measured no faster: dbt's imports are most of the
    start either way, and dbt-duckdb keeps the file locked after the run.)
    """
    db = db.resolve()
    env = {**os.environ, "PSW_DB_PATH": db.name, "PSW_MEMORY_LIMIT": MEMORY_LIMIT,
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    target = target_dir(db)
    work = target.parent
    cached = PARSE_CACHE / f"{db.name}.msgpack"
    _copy(cached, target / PARSE_FILE, only_if_missing=True)
    dbt = Path(sys.executable).with_name("dbt")
    args = [str(dbt), *command.split(), "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
            "--target-path", str(target), "--log-path", str(work / "logs")]
    args += [a for a in extra if a != "--"]
    ok = (output.run(args, env=env, cwd=db.parent) if output else subprocess.run(args, env=env, cwd=db.parent).returncode) == 0
    if ok:
        _copy(target / PARSE_FILE, cached)
    return ok


def target_dir(db: Path) -> Path:
    """dbt's target folder for this warehouse (compiled SQL, manifest, docs), beside the file."""
    db = db.resolve()
    return db.parent / f".{db.name}.dbt" / "target"


def _copy(source: Path, dest: Path, only_if_missing: bool = False) -> None:
    """Best effort (it is a cache): written whole under a temporary name, then renamed."""
    if not source.exists() or (only_if_missing and dest.exists()):
        return
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        shutil.copyfile(source, partial)
        os.replace(partial, dest)
    except OSError:
        pass


def run(args) -> int:
    db = db_path(args.db)
    if not db.exists():
        raise UserError(f"{db}: no warehouse here yet; run `psw ingest FILE...` first")
    extra = [a for a in args.passthrough if a != "--"]
    if not args.unit_tests:
        extra += ["--exclude-resource-type", "unit_test"]
    # waits (bounded, with a message) while another process holds the lock; a warehouse from an
    # older psw gains the raw tables and columns dbt reads
    quiet = getattr(args, "quiet", False)  # an adaptive round's build: silent unless it fails
    with connect(db) as con:
        ensure_raw_schema(con)
        state = build_state.current_state(con, extra)
        stored, built_at = build_state.stored_state(con)
        todo = build_state.plan(stored, state, force=args.force)
        if todo.action == "skip":
            if not quiet:
                print(f"nothing changed since the last build ({built_at:%Y-%m-%d %H:%M:%S} UTC): same raw tables, "
                      "dbt project and arguments, so its models and tests stand; `psw build --force` builds anyway")
            return 0
        build_state.clear_state(con)  # a failed or interrupted build leaves no state behind
    select = []
    if todo.action == "changed":
        if not quiet:
            print(f"{todo.reason}: building the models that read them and their tests")
        select = ["--select", *todo.select]
    # nothing reads a build's manifest.json or run_results.json (`psw docs` writes its own): ~0.4 s
    quiet_artifacts = [] if "--write-json" in extra else ["--no-write-json"]
    # dbt's ~550 log lines become one progress line and a summary (warehouse/build_output.py)
    output = None if args.verbose or build_state.OUTPUT_ONLY & set(extra) else BuildOutput.for_terminal()
    ok = run_dbt(db, "build", extra + select + quiet_artifacts, output)
    if output is not None and (not ok or not quiet):
        output.finish(ok)
    if not ok:
        raise UserError("dbt build failed" + (" (see the dbt output above)" if output is None else
                        ": the failing models and tests are listed above; `psw build --verbose` shows dbt's log"))
    with connect(db) as con:  # the state before the build: anything written since builds next time
        build_state.store_state(con, state)
    return 0
