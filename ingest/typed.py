"""Records typed once, at ingest: every field a kind knows becomes a typed member of its raw
table's `fields` column (exported pairs, persona pairs, scenarios, published stats, selections:
TABLES), so dbt's staging selects columns and never parses their JSON; every top-level field it
does not know goes, with its value, into the table's `extra` JSON column (NULL when there is none).

The values come from the same one-parse extraction the ingest checks read (`t`: each field's JSON
type, `s`: its text; ingest/checks.py `extract_sql`), so typing costs casts, not another parse. A
member is set only when the JSON type fits the declared one (a number for DOUBLE, true/false for
BOOLEAN, a list for a list); anything else is NULL. Ingest refuses a wrongly typed value on a
successful pair before anything is written, so only a failed pair's ignored metrics can come out
NULL this way (as dbt's lenient JSON typing did before).

`record` keeps the line as it came (byte for byte recoverable, and exported); `fields` and
`extra` are derived from it: `extra` holds exactly the record's members whose names `fields(kind)`
does not list (values as JSON, numbers as DuckDB writes them: 2e3 comes back as 2000.0), so
nothing a newer upstream adds is lost from view, and it is exported with the source splits. An
examples load types its records as it checks them (the hot path: 1M pairs); every other row
written without `fields` (candidates, `psw import-hf`, a warehouse made before the columns) gets
both from `fill_typed`, which ingest and import run after writing, and `ensure_current` (run by
build, collect, import and export before they read or write the typed tables). The same SQL
types both, so there is one rule; `extra` is current exactly where `fields` is set.
"""

from __future__ import annotations

import weakref

from ingest.checks import AXIS_JUDGE_FIELDS, NUMBER_TYPES, extract_sql, field_index, fields, kind_of
from warehouse.db import sql_identifier, sql_literal
from warehouse.keys import members_sql
from warehouse.schema import ensure_column, ensure_raw_schema

# Check kind -> (DuckDB type, SQL over t (JSON type) and s (text) of the field; {t} {s} filled in)
_TYPES = {
    "text": ("VARCHAR", "{s}"),
    "string": ("VARCHAR", "{s}"),
    "scalar": ("VARCHAR", "{s}"),
    "integer": ("INTEGER", "case when {t} in ('BIGINT', 'UBIGINT') then try_cast({s} as integer) end"),
    "number": ("DOUBLE", f"case when {{t}} in {NUMBER_TYPES} then try_cast({{s}} as double) end"),
    "boolean": ("BOOLEAN", "case when {t} = 'BOOLEAN' then {s} = 'true' end"),
    "strings": ("VARCHAR[]", "case when {t} = 'ARRAY' then try(({s})::json::varchar[]) end"),
    "list": ("JSON", "case when {t} = 'ARRAY' then ({s})::json end"),
    "nested": ("JSON", "case when {t} in ('ARRAY', 'OBJECT') then ({s})::json end"),  # a list or an object
    # v3 axis_judgments: the judges' objects as JSON (the anchored protocol reads more of them) ...
    "judges": ("JSON", "case when {t} = 'ARRAY' then ({s})::json end"),
}
# ... and, typed beside them, what dbt's guide protocol reads of each judge (int_exported_pairs:
# per-judge axis deltas, order disagreement; the checks bound these and more: AXIS_JUDGE_FIELDS)
JUDGE_AXIS_FIELDS = ("positive_forward_delta", "positive_reverse_delta", "negative_forward_delta",
                     "negative_reverse_delta", "pairwise_positive_delta", "pairwise_negative_delta", "axis_delta")
assert set(JUDGE_AXIS_FIELDS) <= set(AXIS_JUDGE_FIELDS)
JUDGE_AXIS_TYPE = "STRUCT(judge_model VARCHAR, " + ", ".join(f"{name} DOUBLE" for name in JUDGE_AXIS_FIELDS) + ")[]"
_JUDGE_AXIS_JSON = ('[{"judge_model": "VARCHAR", '
                    + ", ".join(f'"{name}": "DOUBLE"' for name in JUDGE_AXIS_FIELDS) + "}]")


def _members(kind: str) -> list[tuple[str, str, str]]:
    """(member name, DuckDB type, SQL over t/s) of every field `kind` extracts, in extract order."""
    index = field_index(kind)
    out = []
    for name in fields(kind):
        type_, sql = _TYPES[kind_of(kind, name)]
        i = index[name]
        out.append((name, type_, sql.format(t=f"t[{i}]", s=f"s[{i}]")))
        if kind_of(kind, name) == "judges":
            out.append(("judge_axis", JUDGE_AXIS_TYPE, f"case when t[{i}] = 'ARRAY' "
                                                       f"then try(json_transform(s[{i}], '{_JUDGE_AXIS_JSON}')) end"))
    return out


def struct_type(kind: str = "examples") -> str:
    """The DuckDB type of the `fields` column of kind's raw table (TABLES)."""
    return "STRUCT(" + ", ".join(f"{sql_identifier(name)} {type_}" for name, type_, _ in _members(kind)) + ")"


def typed_sql(kind: str = "examples") -> str:
    """The `fields` struct, over `t` and `s` of extract_sql(kind)."""
    return ("struct_pack(" + ", ".join(f"{sql_identifier(name)} := {sql}" for name, _, sql in _members(kind))
            + f")::{struct_type(kind)}")


def extra_sql(kind: str, members: str) -> str:
    """The `extra` column from `members`, the record's members as warehouse.keys.members_sql reads
    them: those whose names fields(kind) does not list, in the record's order, as one JSON object;
    NULL when there are none. Ingest's hot path reads the members once, for the record's id too,
    so `extra` costs no measurable time there (100k v2 lines); a JSON merge patch deleting the
    known names from the line (its first form) cost ~3 CPU seconds per 100k."""
    names = "[" + ", ".join(sql_literal(name) for name in fields(kind)) + "]"
    return (f"nullif(to_json(map_from_entries(list_filter(map_entries({members}), "
            f"lambda member: not list_contains({names}, member.key)))), '{{}}')::json")


# kind -> its raw table (each keyed by record_id and load_id)
TABLES = {"examples": "raw.exported_pairs", "pairs": "raw.persona_pairs", "scenarios": "raw.scenarios",
          "stats": "raw.published_stats", "selection": "raw.selections"}


def fill_typed(con, kinds: tuple[str, ...] | None = None) -> int:
    """Type the rows that have no `fields` yet, from their `record` (their `extra` too); returns how
    many. A no-op once every row has them. `kinds` (default every kind in TABLES) limits it to the
    tables just written."""
    chosen = {kind: table for kind, table in TABLES.items() if kinds is None or kind in kinds}
    if not chosen:
        return 0
    untyped = con.execute("select " + ", ".join(f"(select count(*) from {table} where fields is null)"
                                                for table in chosen.values())).fetchone()
    total = 0
    for (kind, table), n in zip(chosen.items(), untyped):
        if n:
            extra = extra_sql(kind, members_sql("record"))
            con.execute(f"""
                update {table} as held set fields = typed.fields, extra = typed.extra
                from (select record_id, load_id, {typed_sql(kind)} as fields, {extra} as extra
                      from (select record_id, load_id, record, {extract_sql(kind)}
                            from {table} where fields is null)) as typed
                where held.record_id = typed.record_id and held.load_id = typed.load_id""")
        total += n
    return total


# Connections that ran ensure_current: every later call on one is a no-op. A psw command runs it right
# after it connects (autocommit: what it changes is committed), and each writer types its own rows
# (fill_typed, append), so nothing a connection writes afterwards waits for it. `psw ingest` of four
# files called it four times, ~38 ms each (two dozen statements) on a current warehouse.
_current: weakref.WeakSet = weakref.WeakSet()


def ensure_current(con) -> None:
    """warehouse.schema.ensure_raw_schema, then the typed fields: what every command that writes or
    builds from the typed raw tables runs first (the warehouse package knows nothing of ingest's checks).
    Once per connection."""
    if con in _current:
        return
    ensure_typed(con, ensure_raw_schema(con))
    _current.add(con)


def ensure_typed(con, columns: dict[str, dict[str, str]]) -> None:
    """Each typed raw table has `fields` with this release's type and `extra` (added, or derived
    again whole when the known fields changed: a judge panel edited, a field added), and every row
    has them. `columns`: the raw schema's columns as warehouse.schema.raw_columns read them."""
    for kind, table in TABLES.items():
        new_extra = ensure_column(con, table, "extra", "JSON", columns)
        if not ensure_column(con, table, "fields", struct_type(kind), columns) and new_extra:
            # typed by a release before `extra`: derive only it (a third of retyping)
            con.execute(f"update {table} set extra = {extra_sql(kind, members_sql('record'))} where fields is not null")
    fill_typed(con)
