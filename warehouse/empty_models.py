"""A full build's models that read only empty raw tables, and its seeds, made as an earlier build made them.

A table model whose every raw table (followed through the models, ephemeral ones included, that it
reads) is empty computes the same table in every warehouse: no row, and columns, types and comments
that depend only on the dbt project's files, dbt's and DuckDB's versions and the build's arguments
(build_state.State's `project` and `setup`). A pilot of exported pairs alone leaves 14 such tables
(the activation, steering, selection, cost and judge-call marts), each a dbt node of Python and SQL
planning: ~0.35 s of a ~2.9 s first build. A seed reads no raw table either: its rows are its CSV
file's, a project file (two seeds, ~0.15 s more).

So after a full build succeeds (`psw build` with nothing narrowing it), `keep` writes down each table
model dbt ran whose raw tables were all empty and which holds no row, and each seed dbt loaded (its rows
too, when its columns are all of SAFE_TYPES): DuckDB's own CREATE TABLE of it (`duckdb_tables().sql`,
constraints included) and its comments, in a file under dbt's target folder named by the project and
setup (`KEPT_DIR`). A later full build of any warehouse of this checkout under the same project and
setup (`make`) creates each one that its warehouse lacks and whose raw tables are all empty there too,
from that record, and dbt leaves it out (`--exclude`). Its guarantees would check zero rows (a seed's:
its fixed rows); they passed on the build that kept it.

A table model that also reads non-empty tables may declare the raw tables without whose rows it has
none (its config's `meta: psw_empty_without`, e.g. the activation marts, whose rows all come through
an inner join with the extraction's vectors or pair statistics, though they read the scored pairs
too): it counts as reading only those. A declaration holds only tables the model reads; the build
that keeps the model checks that dbt's table holds no row (the pilot: 4 marts, ~0.3 s of a ~2.7 s
first build).

A build of what changed raw tables feed (build_state's "changed" plan: the same project, setup and
arguments as the last build, which made or built every relation) leaves out each kept table whose raw
tables are still all empty and which holds no row (`unchanged`): a declared table reads the new pairs
too, and would compute the same empty table again.

A view reading only empty raw tables and seeds (ephemeral models are its CTEs) is made from its own
CREATE VIEW (its SQL names no catalog: the relations are schema-qualified), before dbt runs.

Never made this way: a view reading another model's relation, an incremental model, a model with a
hook of its own (its hook may write elsewhere: int_measurement_versions copies the versions), a model
that reads a source outside the raw schema, a relation the warehouse already has (a rebuild replaces
it: dbt does), and anything when the build is narrowed (--select, --exclude, --full-refresh, ...).
A record DuckDB cannot replay makes nothing, and one that cannot be written is not kept: a cache
never fails a build.
tests/core/test_empty_models.py builds the pilot with and without the record and compares every
relation psw derives (columns, types, nullability, constraints, comments; the made ones' rows), then
fills them by a later run and compares with dbt building everything again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from warehouse import build_state
from warehouse.db import DBT_DIR, sql_identifier, sql_literal
from warehouse.kept_file import write_whole

KEPT_DIR = DBT_DIR / "target" / "empty-models"
FORMAT = 1
# the one hook every model and seed has (dbt_project.yml): its guarantees, which hold on no rows, and
# on a seed's rows as the build that kept them loaded them (the record is kept per project hash)
PROJECT_HOOK = "{{ psw_enforce_guarantees() }}"
# a model's config that names the raw tables without whose rows it has none (_emptied_by)
DECLARED = "psw_empty_without"
# a seed's column types whose values JSON keeps exactly (strings, integers, floats by repr, booleans)
SAFE_TYPES = {"VARCHAR", "DOUBLE", "BIGINT", "INTEGER", "BOOLEAN"}


@dataclass(frozen=True)
class EmptyModel:
    name: str                       # the model's name (what --exclude takes)
    schema: str                     # its relation in the warehouse's catalog
    identifier: str
    raw: tuple[str, ...]            # the raw tables it reads, through every model and CTE between
    ddl: str                        # DuckDB's CREATE TABLE of it
    comment: str | None             # the relation's comment and its columns' (dbt's persist_docs)
    column_comments: dict[str, str]
    rows: list[list] = field(default_factory=list)   # a seed's rows (a model's: none)
    kind: str = "table"                              # table | view


def _path(state: build_state.State) -> Path:
    key = json.dumps({"format": FORMAT, "project": state.project, "setup": state.setup}, sort_keys=True)
    return KEPT_DIR / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def kept(state: build_state.State) -> dict[str, EmptyModel]:
    """The models kept for this project and setup (none when there is no readable record)."""
    try:
        data = json.loads(_path(state).read_text())
        return {m["name"]: EmptyModel(**{**m, "raw": tuple(m["raw"])}) for m in data["models"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _empty(state: build_state.State, tables: tuple[str, ...]) -> bool:
    return all(table in state.raw and state.raw[table][1] == 0 for table in tables)


def make(con: duckdb.DuckDBPyConnection, state: build_state.State) -> list[str]:
    """Create each kept model whose raw tables are all empty here and that this warehouse lacks;
    returns their names, for dbt to leave out. Run before a full build, in one transaction: a record
    DuckDB refuses makes nothing (a cache never fails a build; dbt then builds every model)."""
    models = [m for m in kept(state).values() if _empty(state, m.raw)]
    if not models:
        return []
    present = _present(con)
    # tables (and seeds) first: a view is bound as it is made, and may read a seed
    models = sorted((m for m in models if (m.schema, m.identifier) not in present), key=lambda m: m.kind == "view")
    if not models:
        return []
    catalog = sql_identifier(con.execute("select current_database()").fetchone()[0])
    con.begin()
    try:
        for model in models:
            con.execute(f"create schema if not exists {catalog}.{sql_identifier(model.schema)}")
            con.execute(f"use {catalog}.{sql_identifier(model.schema)}")   # DuckDB writes main's tables unqualified
            con.execute(model.ddl)
            relation = f"{sql_identifier(model.schema)}.{sql_identifier(model.identifier)}"
            if model.comment is not None:
                con.execute(f"comment on {model.kind} {relation} is {sql_literal(model.comment)}")
            for column, text in model.column_comments.items():
                con.execute(f"comment on column {relation}.{sql_identifier(column)} is {sql_literal(text)}")
            if model.rows:
                places = ", ".join("?" * len(model.rows[0]))
                con.executemany(f"insert into {relation} values ({places})", model.rows)
        con.commit()
    except duckdb.Error:   # a record this DuckDB cannot replay: nothing made, dbt builds them all
        con.rollback()
        return []
    except BaseException:
        con.rollback()
        raise
    finally:
        con.execute(f"use {catalog}.main")
    return [m.name for m in models]


def _present(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    """(schema, name) -> `table` or `view`: the relations this warehouse holds."""
    return {(schema, name): kind for schema, name, kind in con.execute(
        "select schema_name, table_name, 'table' from duckdb_tables() where database_name = current_database() "
        "union all select schema_name, view_name, 'view' from duckdb_views() where database_name = current_database()"
    ).fetchall()}


def unchanged(con: duckdb.DuckDBPyConnection, state: build_state.State) -> list[str]:
    """For a build of what the changed raw tables feed: the kept tables whose raw tables are still all
    empty here and which this warehouse holds without a row, for dbt to leave out (their result is that
    same empty table: the last build, of this project and setup, made or built them). A declared
    table (`psw_empty_without`) reads the changed pairs too; the others are not selected anyway."""
    models = [m for m in kept(state).values() if m.kind == "table" and not m.rows and _empty(state, m.raw)]
    if not models:
        return []
    present = _present(con)
    models = [m for m in models if present.get((m.schema, m.identifier)) == "table"]
    if not models:
        return []
    relations = {m.name: f"{sql_identifier(m.schema)}.{sql_identifier(m.identifier)}" for m in models}
    counts = con.execute(" union all ".join(f"select {sql_literal(name)}, (select count(*) from {relation})"
                                            for name, relation in relations.items())).fetchall()
    return [name for name, n in counts if n == 0]


def keep(con: duckdb.DuckDBPyConnection, state: build_state.State, manifest, ran: set[str]) -> None:
    """After a full build that succeeded: record each table model and seed in `ran` (unique ids of the
    nodes dbt ran) that `make` could make next time, adding to what is kept for this project and setup."""
    if manifest is None:
        return
    try:
        _keep(con, state, manifest, ran)
    except duckdb.Error:   # a cache: the build it follows succeeded, and stands
        return


def _keep(con: duckdb.DuckDBPyConnection, state: build_state.State, manifest, ran: set[str]) -> None:
    sources = {name: table for table, name in build_state.source_names().items()}
    catalog = con.execute("select current_database()").fetchone()[0]
    have = kept(state)
    found = {}
    for uid in sorted(ran):
        node = manifest.nodes.get(uid)
        kind = _kind(manifest, node) if node is not None and node.name not in have else None
        if kind is None:
            continue
        raw = _emptied_by(node, _raw_tables(manifest, uid, sources, {}))
        if raw is None or not _empty(state, raw):
            continue
        row = con.execute(f"select sql, comment from duckdb_{kind}s() where database_name = current_database() "
                          f"and schema_name = ? and {kind}_name = ?", [node.schema, node.alias]).fetchone()
        if row is None or (kind == "view" and catalog.lower() in row[0].lower()):
            continue   # a view whose SQL names this warehouse's catalog would read it from another
        relation = f"{sql_identifier(node.schema)}.{sql_identifier(node.alias)}"
        rows = []
        if node.resource_type == "seed":
            types = {t for (t,) in con.execute("select data_type from duckdb_columns() where database_name = "
                                              "current_database() and schema_name = ? and table_name = ?",
                                              [node.schema, node.alias]).fetchall()}
            if not types <= SAFE_TYPES:
                continue
            rows = [list(r) for r in con.execute(f"select * from {relation} order by rowid").fetchall()]  # as loaded
        elif con.execute(f"select count(*) from {relation}").fetchone()[0] != 0:
            continue
        comments = dict(con.execute(
            "select column_name, comment from duckdb_columns() where database_name = current_database() "
            "and schema_name = ? and table_name = ? and comment is not null order by column_index",
            [node.schema, node.alias]).fetchall())
        found[node.name] = EmptyModel(node.name, node.schema, node.alias, raw, row[0], row[1], comments, rows, kind)
    if not found:
        return
    models = [asdict(m) for m in {**have, **found}.values()]
    write_whole(_path(state), json.dumps({"format": FORMAT, "models": models}, indent=1).encode())


def _emptied_by(node, raw: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The raw tables whose emptiness leaves the model without a row: every one it reads (`raw`), or
    those its config declares (`meta: psw_empty_without`: a model that reads the pairs too, but whose
    rows all come through an inner join with these), when it reads each of them. None: no such tables
    (it reads something other than raw tables, or declares one it does not read)."""
    declared = (node.config.meta or {}).get(DECLARED)
    if raw is None or declared is None:
        return raw
    if not isinstance(declared, list) or not declared or not set(declared) <= set(raw):
        return None
    return tuple(sorted(set(declared)))


def _kind(manifest, node) -> str | None:
    """`table` (a table model or a seed) or `view` for a node `make` can make; None for any other."""
    config = node.config
    hooks = [hook.sql for hook in config.post_hook] + [hook.sql for hook in config.pre_hook]
    if not all(sql.strip() == PROJECT_HOOK for sql in hooks):
        return None
    if (node.resource_type, config.materialized) in (("model", "table"), ("seed", "seed")):
        return "table"
    if (node.resource_type, config.materialized) == ("model", "view") and _over_sources(manifest, node):
        return "view"
    return None


def _over_sources(manifest, node) -> bool:
    """A view made before dbt runs can read sources and seeds only (ephemeral models are its CTEs): a
    relation of another model may not be there yet."""
    for parent in node.depends_on.nodes:
        if parent.startswith("model."):
            model = manifest.nodes.get(parent)
            if model is None or model.config.materialized != "ephemeral" or not _over_sources(manifest, model):
                return False
        elif not parent.startswith(("source.", "seed.")):
            return False
    return True


def _raw_tables(manifest, uid: str, sources: dict[str, str], seen: dict) -> tuple[str, ...] | None:
    """The raw tables `uid` reads through every model between (None: it reads something else)."""
    if uid in seen:
        return seen[uid]
    seen[uid] = None   # a cycle (dbt refuses those) reads as unknown
    if uid.startswith("seed."):   # its rows are its CSV file's
        found: tuple[str, ...] | None = ()
    elif uid.startswith("source."):
        table = sources.get(".".join(uid.split(".")[-2:]))
        found = (table,) if table else None
    elif uid.startswith("model.") and uid in manifest.nodes:
        found = ()
        for parent in manifest.nodes[uid].depends_on.nodes:
            tables = _raw_tables(manifest, parent, sources, seen)
            if tables is None:
                found = None
                break
            found = tuple(sorted(set(found) | set(tables)))
    else:
        found = None
    seen[uid] = found
    return found
