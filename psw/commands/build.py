"""`psw build`: run `dbt build` (models + data tests) against the selected DuckDB file.

dbt's unit tests check the SQL, not the data, so a build skips them unless asked
(`--unit-tests`); the test suite asks, so every CI run checks them.

A build that would redo the last successful one (same raw tables, dbt project, versions
and arguments: warehouse/build_state.py) is skipped: its models and tests already ran on
exactly that data and SQL. When only raw tables changed, a plain `psw build` builds the
models that read them (`--select source:<table>+`) and their tests; the rest are current.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from ingest.typed import ensure_current
from warehouse import build_state, dbt_runner, empty_models
from warehouse.build_output import BuildOutput
from warehouse.db import UserError, connect, db_path
from warehouse.dbt_runner import PARSE_CACHE, DbtRun, target_dir  # noqa: F401 (psw docs, the benchmark)


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


def run_dbt(db: Path, command: str, extra: list[str], callbacks=(), connection=None) -> DbtRun:
    """Run `dbt <command> <extra>` on the warehouse (warehouse/dbt_runner.py); true when it succeeded.
    `connection`: psw's open connection to it, for dbt to run on (dbt_runner.invoke)."""
    return dbt_runner.invoke(db, [*command.split(), *extra], callbacks, connection=connection)


def failure_line(db: Path, run: DbtRun) -> str:
    """One line for a failed build: the model, column and value a broken guarantee names,
    else the first node that failed and dbt's first line about it."""
    if run.exception is not None:
        return f"dbt could not start: {_first_line(run.exception)}"
    failed = [r for r in run.results if _value(r.status) in ("fail", "error", "runtime error")]
    for result in failed:  # a model's post-hook found a broken guarantee (dbt/macros/guarantees.sql)
        broken = re.search(r"psw guarantee broken: (.+?)(?:\n|$)", str(result.message or ""))
        if broken:
            return broken[1].strip()
    for result in failed:  # a guarantees test node (`psw build --select test_name:...` or dbt test)
        node = result.node
        if _value(node.resource_type) == "test" and _value(result.status) == "fail" and node.compiled_code:
            model = (node.attached_node or node.name).split(".")[-1]
            found = _first_violation(db, node.compiled_code)
            if found:
                column, rule, value = found
                return f"{model}.{column} = {'null' if value is None else value}: {rule} (test {node.name})"
    if failed:
        node = failed[0].node
        return f"{_value(node.resource_type)} {node.name}: {_first_line(failed[0].message or failed[0].status)}"
    return "dbt build failed (see the dbt output above)"


def _first_violation(db: Path, sql: str) -> tuple | None:
    """The first row a `guarantees` test found (column_name, rule, value); None for other tests."""
    try:
        with connect(db, read_only=True) as con:
            rel = con.sql(sql)
            if rel.columns != ["column_name", "rule", "value", "check_no"]:
                return None
            first = rel.order("check_no, value").limit(1).fetchall()
            return first[0][:3] if first else None
    except Exception:  # the explanation is best effort: the failure itself is already certain
        return None


def _with_var(extra: list[str], name: str, value: object) -> list[str]:
    """`extra` with `--vars` holding name: value too (merged into a --vars given there)."""
    out, given = [], {}
    for i, arg in enumerate(extra):
        if arg == "--vars" and i + 1 < len(extra):
            continue
        if i > 0 and extra[i - 1] == "--vars":
            given = yaml.safe_load(arg) or {}
            if not isinstance(given, dict):
                raise UserError(f"--vars {arg}: not a YAML mapping")
            continue
        out.append(arg)
    return [*out, "--vars", json.dumps({**given, name: value})]


def _value(enum: object) -> str:
    return str(getattr(enum, "value", enum))


def _first_line(text: object) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else "failed"


def run(args) -> int:
    db = db_path(args.db)
    if not db.exists():
        raise UserError(f"{db}: no warehouse here yet; run `psw ingest FILE...` first")
    extra = [a for a in args.passthrough if a != "--"]
    if args.unit_tests:  # their inputs' columns are read from the warehouse: staging as views
        extra = _with_var(extra, "staging_as_views", True)
    else:
        extra += ["--exclude-resource-type", "unit_test"]
    # waits (bounded, with a message) while another process holds the lock; a warehouse from an
    # older psw gains the raw tables and columns dbt reads. One connection for the whole build:
    # psw's checks, dbt's run (handed to it) and the state stored after it
    quiet = getattr(args, "quiet", False)  # an adaptive round's build: silent unless it fails
    handed = dbt_runner.takes_connection(db, extra)   # else dbt opens the file itself: psw closes it first
    con = connect(db)
    try:
        ensure_current(con)
        state = build_state.current_state(con, extra)
        stored, built_at = build_state.stored_state(con)
        todo = build_state.plan(stored, state, force=args.force)
        if todo.action == "skip":
            if not quiet:
                print(f"nothing changed since the last build ({built_at:%Y-%m-%d %H:%M:%S} UTC): same raw tables, "
                      "dbt project and arguments, so its models and tests stand; `psw build --force` builds anyway")
            return 0
        build_state.clear_state(con)  # a failed or interrupted build leaves no state behind
        # a full build: the models that read only empty raw tables, as an earlier build of this
        # project made them (warehouse/empty_models.py), and dbt leaves them out
        unselected = not build_state.SELECTING & {arg.split("=")[0] for arg in extra}
        whole = todo.action == "all" and unselected
        made = empty_models.make(con, state) if whole else []
        if todo.action == "changed" and unselected:   # and those of them still empty stay as they are
            made = empty_models.unchanged(con, state)
        select = []
        if todo.action == "changed":
            if not quiet:
                print(f"{todo.reason}: building the models that read them and their tests")
            select = ["--select", *todo.select]
        # nothing reads a build's manifest.json or run_results.json (`psw docs` writes its own): ~0.4 s
        quiet_artifacts = [] if "--write-json" in extra else ["--no-write-json"]
        # dbt's ~550 log lines become one progress line and a summary (warehouse/build_output.py):
        # dbt's console log is off and its events reach the printer through dbtRunner's callbacks
        output = None if args.verbose or build_state.OUTPUT_ONLY & set(extra) else BuildOutput.for_terminal()
        console = [] if output is None else ["--log-level", "none", "--log-level-file", "debug"]
        # each model checks its guarantees as it is built (a post-hook, dbt/macros/guarantees.sql):
        # their test nodes would check the same rows again, one dbt node each (asked for by
        # resource type, `psw build --resource-type test`, they run)
        hooked = [] if {"--resource-type", "--resource-types"} & set(extra) else ["test_name:guarantees"]
        excluded = ["--exclude", *hooked, *made] if hooked or made else []
        if not handed:
            con.close()
        built = run_dbt(db, "build", console + extra + select + excluded + quiet_artifacts,
                        callbacks=[output.callback] if output is not None else (), connection=con if handed else None)
        if output is not None and (not built or not quiet):
            output.finish(bool(built))
        if built:  # the state before the build: anything written since builds next time
            con = con if handed else connect(db)
            build_state.store_state(con, state)
            if whole:
                ran = {r.node.unique_id for r in built.results if _value(r.status) == "success"}
                empty_models.keep(con, state, dbt_runner.manifest_of(db, ["build", *extra]), ran)
    finally:
        con.close()
    if not built:   # read once the file is closed (a failed guarantee test's row is read from it)
        raise UserError(f"dbt build failed: {failure_line(db, built)}")
    return 0
