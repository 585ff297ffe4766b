"""The raw records behind an export, published as `source_*` splits, so `psw import-hf` rebuilds
the same raw layer and `psw build` the same marts (a lossless round trip).

`psw export-hf` writes, beside the mart splits, one split per raw table that holds the chosen
measurements' input records (each row as raw holds it: the record's JSON text, its line, its
load) and `source_loads`, the load metadata of those rows (kind, source path, measurement,
record and blank-line counts, when it was loaded). `psw import-hf` of a folder with
`source_loads` writes these rows back, load by load (a load the warehouse already holds is
skipped), after the same checks ingest applies, in one transaction; the mart-shaped splits of
that folder are then not read (they are derived). Folders without source splits import as before.

A typed record's `extra` (its fields no kind knows: ingest/typed.py) is published with it; import
derives it again from `record`, with `fields`.
"""

from __future__ import annotations

import pyarrow as pa

from ingest.typed import TABLES, fill_typed
from warehouse.append import append, table_columns, transaction
from warehouse.db import UserError
from warehouse.schema import TYPED_JSON

# (split, raw table, its key, filtered by measurement)
SOURCES = [
    ("source_exported_pairs", "raw.exported_pairs", ["record_id", "load_id"], True),
    ("source_published_stats", "raw.published_stats", ["record_id", "load_id"], True),
    ("source_pairs", "raw.pairs", ["pair_id", "load_id"], True),
    ("source_judgments", "raw.judgments", ["judgment_id", "load_id"], True),
    ("source_measurements", "raw.measurements", ["measurement_id", "load_id"], True),
    ("source_adaptive_decisions", "raw.adaptive_decisions", ["decision_id"], True),
    ("source_persona_pairs", "raw.persona_pairs", ["record_id", "load_id"], False),
    ("source_templates", "raw.templates", ["record_id", "load_id"], False),
    ("source_template_catalog", "raw.template_catalog", ["record_id", "load_id"], False),
    ("source_scenarios", "raw.scenarios", ["record_id", "load_id"], False),
]
LOADS = "source_loads"
CHECKED = {"raw.exported_pairs": "examples", "raw.published_stats": "stats", "raw.persona_pairs": "pairs",
           "raw.scenarios": "scenarios"}


# columns derived from the record at ingest (ingest/typed.py) and again on import: fill_typed types
# every row written without `fields` and sets `extra` with it, replacing a split's `extra` (`record`
# is the source; this release's known fields decide). Not published: `fields` (the record's known
# fields again, typed). `extra` is, so a reader sees the fields no kind knows without parsing JSON.
DERIVED = {table: {"fields"} for table in TABLES.values()}
# ... and warehouse/schema.py's typed JSON attributes (a catalog's, a measurement's, adaptive settings)
DERIVED.update({table: DERIVED.get(table, set()) | {typed} for table, (_, typed, _) in TYPED_JSON.items()})


def _select(con, table: str, where: str) -> str:
    """Every column but the unpublished ones; JSON as its text (parquet has no JSON type; import casts it back)."""
    items = [f'"{c}"::varchar as "{c}"' if t == "JSON" else f'"{c}"' for c, t in table_columns(con, table)
             if c not in DERIVED.get(table, ())]
    return f"select {', '.join(items)} from {table} {where}"


def export_tables(con, measurements: list[str]) -> dict[str, pa.Table]:
    """{split: rows} of the chosen measurements' raw records and their loads; only splits with rows."""
    quoted = ", ".join("'" + m.replace("'", "''") + "'" for m in measurements)
    out: dict[str, pa.Table] = {}
    load_ids: set[str] = set()
    for name, table, key, by_measurement in SOURCES:
        where = f"where measurement_id in ({quoted})" if by_measurement else ""
        rows = con.sql(f"{_select(con, table, where)} order by {', '.join(key)}").to_arrow_table()
        if rows.num_rows:
            out[name] = rows
            if "load_id" in rows.column_names:
                load_ids.update(rows.column("load_id").to_pylist())
    if out:
        ids = ", ".join("'" + i.replace("'", "''") + "'" for i in sorted(load_ids))
        out[LOADS] = con.sql(f"{_select(con, 'raw.loads', '')} where load_id in ({ids}) and forgotten_at is null "
                             f"order by load_id").to_arrow_table()
    return out


def has_sources(splits: dict) -> bool:
    return LOADS in splits


def check(splits: dict) -> None:
    """Ingest's checks over the records, and the columns must be the raw tables' own."""
    import duckdb

    from hf.import_checks import _check_judgments, _check_pair_keys, _check_records, _check_typed_json

    con = duckdb.connect()
    try:
        from ingest.typed import ensure_current

        ensure_current(con)
        tables = [(LOADS, "raw.loads", ["load_id"], False), *SOURCES]
        for name, table, key, _ in tables:
            if name not in splits:
                continue
            split = splits[name]
            known = {c for c, _ in table_columns(con, table)}
            extra = [c for c in split.table.column_names if c not in known]
            missing = [c for c in key if c not in split.table.column_names]
            if extra or missing:
                what = f"column {extra[0]} is not a column of {table}" if extra else f"column {missing[0]} missing"
                raise UserError(f"split {name} ({split.origin}): {what}; nothing imported")
            rows = split.table.to_pylist()
            if table in CHECKED:
                _check_records(con, split, CHECKED[table], [r for r in rows if r.get("level") != "persona_pair"])
            if table in TYPED_JSON:
                _check_typed_json(con, split, table, rows)
            if table == "raw.exported_pairs":
                _check_pair_keys(con, split, rows)
            elif table == "raw.judgments":
                _check_judgments(split, rows)
    finally:
        con.close()
    live = set(splits[LOADS].table.column("load_id").to_pylist())
    for name, *_ in SOURCES:
        if name in splits and "load_id" in splits[name].table.column_names:
            orphan = set(splits[name].table.column("load_id").to_pylist()) - live
            if orphan:
                raise UserError(f"split {name} ({splits[name].origin}): rows of load {sorted(orphan)[0]}, which "
                                f"split {LOADS} does not list; nothing imported")


def import_sources(con, splits: dict) -> dict[str, int]:
    """Write the (checked) source splits back into raw, load by load; {raw table: new rows}."""
    loads = splits[LOADS].table
    held = {r[0] for r in con.execute("select load_id from raw.loads where forgotten_at is null").fetchall()}
    new = [i for i in loads.column("load_id").to_pylist() if i not in held]
    counts: dict[str, int] = {}
    if not new:
        return counts
    import pyarrow.compute as pc

    wanted = pa.array(new)
    with transaction(con):
        con.execute(f"delete from raw.loads where load_id in ({', '.join('?' * len(new))})", new)  # forgotten
        counts["raw.loads"] = append(con, "raw.loads", loads.filter(pc.is_in(loads.column("load_id"), wanted)),
                                     "load_id")
        for name, table, key, _ in SOURCES:
            if name not in splits:
                continue
            rows = splits[name].table
            if "load_id" in rows.column_names:
                rows = rows.filter(pc.is_in(rows.column("load_id"), wanted))
            counts[table] = append(con, table, rows, key)
        fill_typed(con)
    return counts
