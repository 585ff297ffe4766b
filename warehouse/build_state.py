"""What a dbt build derives from, so `psw build` can tell when nothing changed since the last one.

A build's result depends only on: the raw tables, the dbt project's files, the versions of
dbt, its DuckDB adapter and DuckDB, and the arguments and DBT_* settings dbt ran with.
`current_state` fingerprints all of them in one cheap query plus a hash of the project
files; a successful build stores it in the warehouse itself (`meta.last_build`, so it travels
with the derived tables it describes), and a build that starts clears it first, so a failed
or interrupted build never leaves a state behind.

The raw tables are append-only: rows arrive by appends and leave only through `psw forget`
(which also updates raw.loads and writes raw.forgets). Each table's fingerprint is its
column list, its row count and an order-free sum over its rows of a hash of the row's load and
its timestamps (a table without loads: its key, derived from the content, its ids and its
timestamps; `_hashed`), so any load, forget or re-load changes it. A change made around psw
(say, a DuckDB shell editing raw tables) is not part of that contract: `psw build --force`
builds anyway.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import duckdb
import yaml

from warehouse.db import DBT_DIR

# dbt's own output folders and editor litter: not part of what a build reads
_NOT_PROJECT = {"target", "logs", "dbt_packages"}
# dbt arguments that choose the nodes themselves: a build given one is never narrowed
SELECTING = {"-s", "--select", "-m", "--models", "--exclude", "--selector", "--inline", "--resource-type",
             "--resource-types", "--full-refresh", "-f"}
# dbt arguments that change only what dbt prints: `psw build --quiet` repeats a `psw build`
OUTPUT_ONLY = {"-q", "--quiet", "--no-quiet", "-d", "--debug", "--no-debug", "--print", "--no-print",
               "--use-colors", "--no-use-colors"}
# what psw sets for every dbt run (warehouse/dbt_runner.py), whatever the caller's environment
# holds: a value there changes nothing dbt does, so it is no part of a build's state or its caches'
# keys (`make` exports DBT_SEND_ANONYMOUS_USAGE_STATS; a shell, usually not)
RUN_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
META_DDL = """
create schema if not exists meta;
create table if not exists meta.last_build (state json not null, built_at timestamp not null);
-- the measurement versions each incremental model was last computed from (dbt/macros/incremental.sql)
create table if not exists meta.incremental_versions (relation varchar not null, measurement_id varchar not null,
                                                      measurement_version varchar not null);
"""


@dataclass(frozen=True)
class State:
    raw: dict[str, list]            # raw table -> [column list hash, row count, row hash sum]
    project: str                    # sha256 over the dbt project's files
    # versions, and digests of the dbt arguments and DBT_* settings: never their text, which
    # may hold a secret (a var, DBT_ENV_SECRET_*), and secrets never reach a table
    setup: dict = field(default_factory=dict)
    args: tuple[str, ...] = field(default=(), compare=False)  # this build's dbt arguments (not stored)

    def to_json(self) -> str:
        return json.dumps({"raw": self.raw, "project": self.project, "setup": self.setup}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> State:
        data = json.loads(text)
        return cls(data["raw"], data["project"], data["setup"])


@dataclass(frozen=True)
class Plan:
    """What this build does: skip, build everything, or build what reads `changed` tables."""
    action: str                     # skip | all | changed
    reason: str
    select: list[str] = field(default_factory=list)


def current_state(con: duckdb.DuckDBPyConnection, dbt_args: list[str]) -> State:
    args = tuple(arg for arg in dbt_args if arg not in OUTPUT_ONLY)
    setup = {"versions": {name: metadata.version(name) for name in ("dbt-core", "dbt-duckdb", "duckdb")},
             "args": _digest(json.dumps(args)), "env": _digest(json.dumps(dbt_settings()))}
    return State(raw_fingerprints(con), project_hash(), setup, args)


def dbt_settings() -> list[tuple[str, str]]:
    """The DBT_* settings a dbt run reads from the environment, sorted (those RUN_ENV fixes left out)."""
    return sorted((k, v) for k, v in os.environ.items() if k.startswith("DBT_") and k not in RUN_ENV)


def raw_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, list]:
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, name, type_ in con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'raw' and table_catalog = current_database() "
            "order by table_name, ordinal_position").fetchall():
        columns.setdefault(table, []).append((name, type_))
    if not columns:
        return {}
    parts = [f"select '{table}' as t, count(*) as n, coalesce(sum(hash({', '.join(_hashed(cols))})::hugeint), 0) "
             f"as h from raw.{table}" for table, cols in columns.items()]
    rows = con.execute(" union all ".join(parts)).fetchall()
    return {table: [_digest(repr(columns[table])), n, str(h)] for table, n, h in rows}


def _hashed(cols: list[tuple[str, str]]) -> list[str]:
    """What a row's hash covers: columns that change whenever a row arrives, leaves or is loaded again.

    A table whose rows each name their load (`load_id`): the load and every timestamp. A load's rows
    are the ones inserted under its id at its `loaded_at` (a load writes once, at one time; loading a
    forgotten file again, or importing it, stamps a new time), and they leave only with their load
    (`psw forget`, which also writes a raw.forgets row): so with the row count, those say what the
    table holds. They are constant over a load's rows, which DuckDB stores compressed: at 1M exported
    pairs the sum takes ~0.004 s, where the content keys (`record_id`, `pair_id`: 40-64 characters
    a row) took ~0.04 s with the table in memory and ~0.1 s in a new process (read from the file),
    in every build.
    Any other table: its key (first column), its other ids and every timestamp (a content key makes
    the text redundant)."""
    names = [name for name, _ in cols]
    if "load_id" in names:
        kept = ["load_id"] + [name for name, type_ in cols if type_.startswith("TIMESTAMP")]
    else:
        kept = [names[0]] + [name for name, type_ in cols[1:]
                             if name.endswith("_id") or name == "cache_key" or type_.startswith("TIMESTAMP")]
    return [f'"{name}"' for name in kept]


def project_hash() -> str:
    """A hash of the project's files (their paths and bytes). A build asks for it three times (its
    state, its kept manifest's key, twice): the files are read and hashed again only when one of
    them was added, removed or written (its size, modification time or inode moved)."""
    files = _project_files()
    signature = (DBT_DIR, tuple((path, stat.st_size, stat.st_mtime_ns, stat.st_ino)
                                for path, stat in ((path, path.stat()) for path in files)))
    if signature not in _hashed_projects:
        digest = hashlib.sha256()
        for path in files:
            digest.update(str(path.relative_to(DBT_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
        _hashed_projects.clear()   # one project a process, nearly always: keep the last
        _hashed_projects[signature] = digest.hexdigest()
    return _hashed_projects[signature]


_hashed_projects: dict[tuple, str] = {}


def _project_files() -> list[Path]:
    """The project's files: none under dbt's own folders (_NOT_PROJECT, at the top) or under a name
    starting with a dot, and nothing they hold is walked (dbt's target folder holds its caches)."""
    files = []
    for folder, folders, names in os.walk(DBT_DIR):
        top = folder == str(DBT_DIR)
        folders[:] = [name for name in folders if not name.startswith(".") and not (top and name in _NOT_PROJECT)]
        files += [Path(folder, name) for name in names
                  if not name.startswith(".") and not (top and name in _NOT_PROJECT)
                  and os.path.isfile(os.path.join(folder, name))]
    return sorted(files)


def source_names() -> dict[str, str]:
    """raw table -> its dbt source, `<source>.<table>`, from the project's source declarations."""
    names = {}
    for path in (DBT_DIR / "models").rglob("*.yml"):
        text = path.read_text()
        if "sources:" not in text:
            continue
        for source in (yaml.safe_load(text) or {}).get("sources") or []:
            if source.get("schema", source["name"]) == "raw":
                names.update({t["name"]: f"{source['name']}.{t['name']}" for t in source.get("tables") or []})
    return names


def plan(stored: State | None, current: State, force: bool = False) -> Plan:
    if force:
        return Plan("all", "--force")
    if stored is None:
        return Plan("all", "no earlier successful build recorded")
    if stored == current:
        return Plan("skip", "nothing changed since the last build")
    if stored.project != current.project:
        return Plan("all", "the dbt project changed")
    if stored.setup != current.setup:
        return Plan("all", "dbt's arguments, settings or version changed")
    changed = sorted(t for t in stored.raw.keys() | current.raw.keys() if stored.raw.get(t) != current.raw.get(t))
    sources = source_names()
    if SELECTING & {arg.split("=")[0] for arg in current.args} or not all(t in sources for t in changed):
        return Plan("all", f"raw tables changed: {', '.join(changed)}")
    return Plan("changed", f"raw tables changed: {', '.join(changed)}",
                [f"source:{sources[t]}+" for t in changed])


def stored_state(con: duckdb.DuckDBPyConnection) -> tuple[State | None, datetime | None]:
    con.execute(META_DDL)
    row = con.execute("select state, built_at from meta.last_build order by built_at desc limit 1").fetchone()
    if row is None:
        return None, None
    try:
        return State.from_json(row[0]), row[1]
    except (ValueError, KeyError, TypeError):  # a state from another psw version: build
        return None, None


def clear_state(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(META_DDL)
    con.execute("delete from meta.last_build")


def store_state(con: duckdb.DuckDBPyConnection, state: State) -> None:
    con.execute(META_DDL)
    con.begin()
    con.execute("delete from meta.last_build")
    con.execute("insert into meta.last_build values (?, ?)",
                [state.to_json(), datetime.now(timezone.utc).replace(tzinfo=None)])
    con.commit()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
