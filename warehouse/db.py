"""Where the warehouse lives and how commands connect to it.

Two kinds of connection:
- `connect`: the project's own code (ingest, collect, extract, build, export). A file locked by
  another process (a writer, or a long read) is waited for, up to `PSW_LOCK_WAIT_S` seconds, with
  a message, then refused with one line.
- `connect_user_sql`: SQL a user types (`psw sql`, the dashboard's SQL page). Read-only, external
  access off (no files, no network, no extensions), configuration locked: it sees the warehouse
  and nothing else. `check_read_only` admits one SELECT; `time_limit` interrupts a long one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

import duckdb

from warehouse.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = ROOT / "data" / "warehouse.duckdb"
DBT_DIR = ROOT / "dbt"
MARTS_SCHEMA = "main"  # dbt writes marts to the profile's default schema


def db_path(cli_value: str | None = None) -> Path:
    """--db beats PSW_DB beats data/warehouse.duckdb."""
    value = cli_value or os.environ.get("PSW_DB") or str(DEFAULT_DB)
    return Path(value).expanduser().resolve()


def _setting(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        return float(value)
    except ValueError:
        raise UserError(f"{name}={value!r}: expected a number") from None


# DuckDB spills to disk past this, so a million-pair ingest stays within a laptop's memory.
# It caps DuckDB's buffers, not the process: at 2GB a 1M-pair ingest peaked at 2.2 GB resident,
# at 1.5GB at 1.8 GB, in the same CPU time (psw build passes the same cap to dbt). Read when a
# connection opens, not at import: a process forked by psw's server (psw/server.py) takes the caller's.
def memory_limit() -> str:
    value = os.environ.get("PSW_MEMORY_LIMIT") or ""
    return value.strip() or "1.5GB"   # unset or blank: the default, as the other PSW_ settings


def _check_memory_limit(value: str) -> None:
    """One line naming PSW_MEMORY_LIMIT if DuckDB does not take `value` as its memory cap (asked of
    DuckDB itself: its own rules, not a copy of them). Run only when a connection failed to open
    (an in-memory connection costs ~10 ms: not for every command)."""
    try:
        duckdb.connect(config={"memory_limit": value}).close()
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"PSW_MEMORY_LIMIT={value!r}: not a memory size DuckDB takes ({reason}); "
                        "e.g. 1.5GB or 800MB") from None


def lock_wait_s() -> float:
    """How long a connection waits for another process's lock (default 30 s: three times the
    dashboard's query time limit, so a writer outlasts any dashboard query)."""
    return _setting("PSW_LOCK_WAIT_S", 30.0)


def sql_timeout_s() -> float:
    """Time limit of one query on the dashboard's SQL page (default 10 s)."""
    return _setting("PSW_SQL_TIMEOUT_S", 10.0)


def sql_max_rows() -> int:
    """Most rows the dashboard's SQL page fetches (default 10000)."""
    return max(1, int(_setting("PSW_SQL_MAX_ROWS", 10000)))


class WarehouseLocked(UserError):
    """Another process held the warehouse's lock for longer than the wait."""


def is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "could not set lock" in text or "conflicting lock" in text


# Rows per row group of the tables psw and dbt write. DuckDB splits a scan (and a checkpoint) by
# row group, 122,880 rows at its default: a table of 100k pairs was one group, so every query over
# it ran on one core. At 16,384 a 100k-pair table is 7 groups: 100k ingest 7.6 -> 5.5 s, build's dbt
# run 8.2 -> 7.1 s on 2 cores (bench/bench_warehouse.py). DuckDB does not store the size in the
# file: every writer attaches with it (`_attach`, and dbt/profiles.yml for builds).
ROW_GROUP_ROWS = 16384


def catalog_name(path: Path) -> str:
    """The name the warehouse's catalog has in SQL, as `duckdb.connect(path)` and dbt-duckdb name
    it: the file name's first dot-separated part (`warehouse.duckdb`: warehouse)."""
    return path.name.lstrip(".").split(".")[0]


# Names a warehouse's catalog cannot have: DuckDB's own catalogs and the warehouse's schemas (raw,
# meta: psw; the rest: dbt_project.yml). `raw.exported_pairs` in a catalog named raw is ambiguous.
CLASHING_CATALOGS = {"memory", "system", "temp", "main", "raw", "meta", "staging", "intermediate"}


def check_catalog_name(path: Path) -> None:
    """Refuse a warehouse file whose catalog name (catalog_name) clashes, with one line."""
    name = catalog_name(path)
    if name.lower() in CLASHING_CATALOGS:
        raise UserError(f"{path}: DuckDB names a warehouse after its file's name ({name!r}), which is also "
                        f"the name of one of its schemas or of DuckDB's own catalogs; rename the file "
                        f"(e.g. {name}_warehouse.duckdb)")


def _attach(path: Path, config: dict) -> duckdb.DuckDBPyConnection:
    """A writer's connection: the file attached under its catalog name with ROW_GROUP_ROWS, and used,
    so SQL reads as over `duckdb.connect(path)`. DuckDB spills beside the file, as it would there."""
    con = duckdb.connect(config={**config, "temp_directory": f"{path}.tmp"})
    try:
        con.execute(f"attach {sql_literal(str(path))} as {sql_identifier(catalog_name(path))} "
                    f"(row_group_size {ROW_GROUP_ROWS})")
        con.execute(f"use {sql_identifier(catalog_name(path))}")
    except BaseException:
        con.close()
        raise
    return con


def sql_literal(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """`name` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _open(path: Path, read_only: bool, config: dict, wait_s: float | None) -> duckdb.DuckDBPyConnection:
    """duckdb.connect (a writer: `_attach`), waiting out another process's lock (bounded), with one message."""
    check_catalog_name(path)
    wait_s = lock_wait_s() if wait_s is None else wait_s
    deadline = time.monotonic() + wait_s
    told = False
    delay = 0.05
    while True:
        try:
            if read_only:
                return duckdb.connect(str(path), read_only=True, config=config)
            return _attach(path, config)
        except duckdb.IOException as exc:
            if not is_lock_error(exc):
                raise UserError(f"{path}: cannot open ({str(exc).splitlines()[0]})") from None
            left = deadline - time.monotonic()
            if left <= 0:
                raise WarehouseLocked(f"{path}: locked by another process (a build, an ingest or a long "
                                      f"query) for over {wait_s:g} s; try again when it is done "
                                      f"(PSW_LOCK_WAIT_S sets the wait)") from None
            if not told and wait_s >= 2:  # a short wait (the dashboard's) needs no message
                print(f"{path}: locked by another process; waiting up to {wait_s:g} s", file=sys.stderr, flush=True)
                told = True
            time.sleep(min(delay, left))
            delay = min(delay * 2, 1.0)
        except duckdb.Error:
            _check_memory_limit(config["memory_limit"])   # a cap DuckDB cannot read: one line naming it
            raise


def connect(path: Path, read_only: bool = False, wait_s: float | None = None) -> duckdb.DuckDBPyConnection:
    if read_only and not path.exists():
        raise UserError(f"{path}: no warehouse here yet; run `psw ingest ...` then `psw build`")
    path.parent.mkdir(parents=True, exist_ok=True)
    return _open(path, read_only, {"memory_limit": memory_limit()}, wait_s)


# ---- SQL a user types -------------------------------------------------------------------------

SANDBOX = {
    "enable_external_access": False,       # no files, no URLs, no ATTACH, no COPY
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,            # and nothing above can be SET back
}
READ_ONLY_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def connect_user_sql(path: Path, wait_s: float | None = None) -> duckdb.DuckDBPyConnection:
    """The warehouse read-only in a sandbox: user SQL sees its tables and nothing else."""
    if not path.exists():
        raise UserError(f"{path}: no warehouse here yet; run `psw ingest ...` then `psw build`")
    return _open(path, True, {"memory_limit": memory_limit(), **SANDBOX}, wait_s)


def check_read_only(query: str) -> None:
    """Refuse anything but a single SELECT (`psw sql` and the dashboard's SQL page)."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise UserError(f"query: {describe_sql_error(exc)}") from None
    if len(statements) != 1:
        raise UserError(f"query: expected exactly one statement, got {len(statements)}")
    if statements[0].type not in READ_ONLY_STATEMENTS:
        raise UserError(f"query: only SELECT is allowed here, not {statements[0].type.name}")
    refused = sorted(_function_names(query) & REFUSED_FUNCTIONS)
    if refused:
        raise UserError(f"query: {refused[0]}(): {REFUSED}")


# Functions that show the process rather than the warehouse: its settings (the secret directory,
# the allowed paths, the temp folder), its secrets, its environment and its extensions.
REFUSED_FUNCTIONS = {
    "duckdb_settings", "current_setting", "duckdb_secrets", "which_secret", "duckdb_secret_types",
    "getenv", "duckdb_extensions", "duckdb_temporary_files", "duckdb_memory", "duckdb_external_file_cache",
    "pragma_platform", "pragma_user_agent",
}


def _function_names(query: str) -> set[str]:
    """Every function a query calls (lower case), from DuckDB's own parse tree; when the tree
    cannot be had, every identifier-like word of the query (so nothing slips through)."""
    with duckdb.connect() as con:
        tree = json.loads(con.execute("select json_serialize_sql(?)", [query]).fetchone()[0])
    if tree.get("error"):
        return {word.lower() for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", query)}
    names: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            name = node.get("function_name")
            if isinstance(name, str):
                names.add(name.lower())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return names


REFUSED = ("refused: SQL typed here reads the warehouse only (no files, URLs, extensions or settings)")


def describe_sql_error(exc: Exception) -> str:
    """DuckDB's error on one line, keeping its hints ("Candidate bindings: ...", "Did you mean ...")
    and turning its `LINE n:` caret into a line and column."""
    if isinstance(exc, duckdb.PermissionException):
        return REFUSED
    if isinstance(exc, duckdb.InterruptException):
        return "stopped: over the time limit"
    lines = [line for line in str(exc).splitlines()]
    where = ""
    for i, line in enumerate(lines):
        match = re.match(r"LINE (\d+): ", line)
        if match and i + 1 < len(lines) and "^" in lines[i + 1]:
            column = lines[i + 1].index("^") - len(match.group(0)) + 1
            where = f" (line {match.group(1)}, column {column})"
            lines = lines[:i]
            break
    return " ".join(line.strip() for line in lines if line.strip()) + where


@contextlib.contextmanager
def time_limit(con: duckdb.DuckDBPyConnection, seconds: float | None):
    """Interrupt whatever `con` runs after `seconds` (None or <= 0: no limit); the query then
    raises duckdb.InterruptException and the connection's locks go with it when it is closed."""
    if not seconds or seconds <= 0:
        yield
        return
    timer = threading.Timer(seconds, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
