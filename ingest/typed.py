"""Exported pairs typed once, at ingest: every field the examples kind knows becomes a typed member
of raw.exported_pairs.fields, so dbt's staging selects columns and never parses JSON.

The values come from the same one-parse extraction the ingest checks read (`t`: each field's JSON
type, `s`: its text; ingest/checks.py `extract_sql`), so typing costs casts, not another parse. A
member is set only when the JSON type fits the declared one (a number for DOUBLE, true/false for
BOOLEAN, a list for a list); anything else is NULL. Ingest refuses a wrongly typed value on a
successful pair before anything is written, so only a failed pair's ignored metrics can come out
NULL this way (as dbt's lenient JSON typing did before).

`record` keeps the line as it came (byte for byte recoverable, exported, and the home of the
fields no check knows); `fields` is derived from it. Rows written without it (`psw import-hf`,
a warehouse made before this column) get it from `fill_exported_fields`, which every command
that opens the warehouse for writing runs through warehouse.schema.ensure_raw_schema; the same
SQL types both, so there is one rule.
"""

from __future__ import annotations

from ingest.checks import AXIS_JUDGE_FIELDS, NUMBER_TYPES, extract_sql, field_index, fields, kind_of

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


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def struct_type(kind: str = "examples") -> str:
    """The DuckDB type of raw.exported_pairs.fields."""
    return "STRUCT(" + ", ".join(f"{_quote(name)} {type_}" for name, type_, _ in _members(kind)) + ")"


def typed_sql(kind: str = "examples") -> str:
    """The `fields` struct, over `t` and `s` of extract_sql(kind)."""
    return ("struct_pack(" + ", ".join(f"{_quote(name)} := {sql}" for name, _, sql in _members(kind))
            + f")::{struct_type(kind)}")


def fill_exported_fields(con) -> int:
    """Type the exported pairs that have no `fields` yet (written by import-hf, or by a release
    before the column), from their `record`; returns how many. A no-op once every row has them."""
    n = con.execute("select count(*) from raw.exported_pairs where fields is null").fetchone()[0]
    if n:
        con.execute(f"""
            update raw.exported_pairs as held set fields = typed.fields
            from (select record_id, load_id, {typed_sql()} as fields
                  from (select record_id, load_id, {extract_sql('examples')}
                        from raw.exported_pairs where fields is null)) as typed
            where held.record_id = typed.record_id and held.load_id = typed.load_id""")
    return n


def ensure_exported_fields(con) -> None:
    """raw.exported_pairs.fields exists with this release's type (added, or re-derived whole when the
    known fields changed: a judge panel edited, a field added), and every row has it."""
    declared = struct_type()
    have = con.execute("select data_type from information_schema.columns where table_schema = 'raw' "
                       "and table_name = 'exported_pairs' and column_name = 'fields'").fetchone()
    if have and _normalised(have[0]) != _normalised(declared):
        con.execute("alter table raw.exported_pairs drop column fields")
        have = None
    if not have:
        con.execute(f"alter table raw.exported_pairs add column fields {declared}")
    fill_exported_fields(con)


def _normalised(type_: str) -> str:
    return type_.replace('"', "").replace(" ", "").upper()
