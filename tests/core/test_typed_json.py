"""Typed once, everywhere (issue 21 part 1): no dbt staging model parses JSON. The JSON psw stores
beside typed columns (a template catalog's attributes, a load's measurement params, an adaptive run's
settings) is typed when the row is written, into a STRUCT beside it (warehouse/schema.py TYPED_JSON);
the JSON stays as it came. Rows of a warehouse made before the column, and rows `psw import-hf`
writes, get it by the same rule."""

from __future__ import annotations

import json
import re
from datetime import datetime
from types import SimpleNamespace

import duckdb
import pyarrow as pa
import pytest

from collect.store import Store
from hf import source_splits
from ingest.measurements import MeasurementMeta, insert as insert_measurement
from ingest.typed import ensure_current
from tests.conftest import ROOT
from warehouse.append import append, transaction
from warehouse.errors import UserError

STAGING = ROOT / "dbt" / "models" / "staging"
MACROS = ROOT / "dbt" / "macros"
# reading a stored JSON value: ->/->>, json_* functions but the constructors, from_json, json(), a
# cast to JSON. Building JSON (json_array, json_object, to_json) is not parsing.
JSON_PARSING = re.compile(r"->>?|\bjson_(?!array\s*\(|object\s*\()\w+\s*\(|\bfrom_json\w*\s*\(|\bjson\s*\("
                          r"|::\s*json\b|\bas\s+json\b", re.I)
# staging models allowed to parse JSON, with the reason (none today)
PARSES_JSON: dict[str, str] = {}

CATALOG = """\
- template_jinja: "You are a {{ persona }} person."
  status: active
  kind: persona_template
  family: identity
  primary_source_id: 2024-05-01
  primary_source_type: paper
  primary_source_url: https://example.org/paper
  note: 3
  catalog_reason: kept in record only
- template_jinja: "Be {{ persona }}."
  status: excluded
"""
# upstream's YAML types every attribute as text: what staging shows for each entry, in line order
CATALOG_TYPED = [
    {"status": "active", "kind": "persona_template", "family": "identity", "primary_source_id": "2024-05-01",
     "primary_source_type": "paper", "primary_source_url": "https://example.org/paper", "note": "3"},
    {"status": "excluded", "kind": None, "family": None, "primary_source_id": None, "primary_source_type": None,
     "primary_source_url": None, "note": None},
]
SETTINGS = {"budget": 400, "top_k": 3, "z": 2.5, "alpha": 0.05, "rounds": None, "round_size": 3, "replay_of": "full"}
SETTINGS_TYPED = {"budget": 400, "top_k": 3, "z": 2.5, "rounds": None, "round_size": 3, "replay_of": "full"}
WHEN = datetime(2026, 12, 1, 12, 0)


def _macro_bodies() -> dict[str, str]:
    bodies = {}
    for path in MACROS.glob("*.sql"):
        for name, body in re.findall(r"{%-?\s*macro\s+(\w+)\(.*?%}(.*?){%-?\s*endmacro", path.read_text(), re.S):
            bodies[name] = body
    return bodies


def _expanded(sql: str, macros: dict[str, str], seen: set[str]) -> str:
    """The model's SQL and the bodies of the project macros it calls (and they call)."""
    out = [sql]
    for name in re.findall(r"\b(\w+)\(", sql):
        if name in macros and name not in seen:
            seen.add(name)
            out.append(_expanded(macros[name], macros, seen))
    return "\n".join(out)


def _without_comments(sql: str) -> str:
    return re.sub(r"{#.*?#}", "", re.sub(r"--[^\n]*", "", sql), flags=re.S)


def test_the_json_parsing_pattern_finds_what_staging_used_to_parse():
    """The check below can fail: each way staging read JSON before is found, construction is not."""
    for parsing in ("record ->> 'status'", "(settings ->> 'z')::double", "params -> 'server'",
                    "json_extract_string(record, '$.a')", "json_transform(s, '{}')", "from_json(c, '[]')",
                    "c::json", "cast(c as json)", "json(c)", "JSON_EXTRACT(record, 'a')"):
        assert JSON_PARSING.search(parsing), parsing
    for building in ("json_array(json_object('role', 'user', 'content', fields.pos_generation_prompt))",
                     "to_json(fields)", "fields.json_text", "record_typed.status"):
        assert not JSON_PARSING.search(building), building


def test_no_staging_model_parses_json():
    """Every staging model (and every project macro it calls) selects typed columns: staging renames,
    casts and categorises; the typing happened once, when the row was written."""
    macros = _macro_bodies()
    models = sorted(STAGING.rglob("*.sql"))
    assert len(models) > 20
    parsing = {}
    for path in models:
        found = JSON_PARSING.findall(_without_comments(_expanded(path.read_text(), macros, set())))
        if found:
            parsing[path.name] = found
    assert parsing.keys() == PARSES_JSON.keys(), parsing


def _typed(con, table: str, column: str, order: str) -> list[dict]:
    return [json.loads(r[0]) for r in con.execute(f"select to_json({column}) from {table} order by {order}").fetchall()]


def _write_rows(con, tmp_path) -> None:
    """A catalog through ingest, two loads' measurement rows (ingest's and collect's writers) and an
    adaptive decision through the one append."""
    from ingest.loader import ingest_file

    catalog = tmp_path / "template_catalog.yaml"
    catalog.write_text(CATALOG)
    assert not ingest_file(con, catalog, "catalog").rejects
    with transaction(con):
        insert_measurement(con, "m", "load_anchored", MeasurementMeta(), "artifact", {"source_path": "a.json"},
                           WHEN, {"params": {"protocol": "anchored", "inspect_log": "x.eval"}})
        insert_measurement(con, "m", "load_guide", MeasurementMeta(generator_model="g"), "examples_v2",
                           {"source_path": "e.jsonl"}, WHEN)
        append(con, "raw.adaptive_decisions", [{
            "decision_id": "d1", "load_id": "collect_1", "measurement_id": "m", "round": 1,
            "template_text": "Be {persona}.", "persona_pair_id": "pp", "n_pairs": 3, "decision": "kept",
            "calls_so_far": 24, "settings": json.dumps(SETTINGS), "decided_at": WHEN}], "decision_id")
    Store(con).record_measurement("c", "collect_1", "g", ["j"], 0.0, 23, {"protocol": "anchored", "seed": 23})


def _all_typed(con) -> dict[str, list[dict]]:
    return {"catalog": _typed(con, "raw.template_catalog", "record_typed", "line_no"),
            "measurements": _typed(con, "raw.measurements", "params_typed", "measurement_id, load_id"),
            "adaptive": _typed(con, "raw.adaptive_decisions", "settings_typed", "decision_id")}


EXPECTED = {"catalog": CATALOG_TYPED,
            "measurements": [{"protocol": "anchored"}, {"protocol": "anchored"}, {"protocol": None}],
            "adaptive": [SETTINGS_TYPED]}


def test_json_attributes_are_typed_when_the_row_is_written_and_the_json_kept(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ensure_current(con)
        _write_rows(con, tmp_path)
        assert _all_typed(con) == EXPECTED
        # the JSON is stored as it came: every attribute, the ones no column types included
        record = json.loads(con.execute("select record from raw.template_catalog order by line_no").fetchone()[0])
        assert record["catalog_reason"] == "kept in record only" and record["note"] == 3
        settings = json.loads(con.execute("select settings from raw.adaptive_decisions").fetchone()[0])
        assert settings == SETTINGS


def test_an_older_warehouses_rows_are_typed_when_opened_and_staging_shows_them(psw, tmp_path):
    """A warehouse of the previous release has no typed columns: the next command adds them and types
    every row by the rule the writers use; staging and the marts show the JSON's values (a catalog's
    attributes go no further than staging: collect plans by its status)."""
    with duckdb.connect(str(psw.db)) as con:
        ensure_current(con)
        _write_rows(con, tmp_path)
        for table, column in (("template_catalog", "record_typed"), ("measurements", "params_typed"),
                              ("adaptive_decisions", "settings_typed")):
            con.execute(f"alter table raw.{table} drop column {column}")   # as the previous release left it
    rc, _, err = psw("build", "--select", "stg_raw__templates", "+adaptive_rounds", "+measurements")
    assert rc == 0, err
    with duckdb.connect(str(psw.db), read_only=True) as con:
        assert _all_typed(con) == EXPECTED
        templates = con.execute("select template_status, catalog_kind, template_family, template_source_id, "
                                "template_source_type, template_source_url, template_note "
                                "from staging.stg_raw__templates order by line_no").fetchall()
        assert [list(t) for t in templates] == [list(e.values()) for e in CATALOG_TYPED]
        assert con.execute("select budget, top_k, z, rounds_setting, round_size_setting, replay_of "
                           "from main.adaptive_rounds").fetchall() == [tuple(SETTINGS_TYPED.values())]
        assert con.execute("select measurement_id, declared_protocol from staging.stg_raw__measurements "
                           "order by 1").fetchall() == [("c", "anchored"), ("m", "anchored")]
        assert con.execute("select measurement_id, protocol from main.measurements order by 1").fetchall() == \
            [("c", "anchored"), ("m", "anchored")]


def test_rows_without_the_typed_column_or_of_another_release_are_typed_again(tmp_path):
    """Rows copied in without it (a dry run's scratch copy of an older warehouse) are typed when the
    warehouse is next opened; a column of other members (a release that types more) is derived again."""
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ensure_current(con)
        _write_rows(con, tmp_path)
        con.execute("update raw.template_catalog set record_typed = null")
        con.execute("alter table raw.adaptive_decisions drop column settings_typed")
        con.execute("alter table raw.adaptive_decisions add column settings_typed STRUCT(budget VARCHAR)")
        con.execute("update raw.adaptive_decisions set settings_typed = {'budget': 'x'}")
        ensure_current(con)   # once per connection: this one found it current already
        assert con.execute("select count(*) from raw.template_catalog where record_typed is null").fetchone()[0]
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:   # opened again, as the next command opens it
        ensure_current(con)
        assert _all_typed(con) == EXPECTED


def _split(name: str, table: pa.Table, origin: str | None = None) -> SimpleNamespace:
    """What hf/importer.py reads a split into, as the source splits' checks and writer use it."""
    return SimpleNamespace(name=name, table=table, origin=origin or f"{name}.parquet")


def test_import_hf_source_rows_are_typed_by_the_same_rule(tmp_path):
    """The source splits publish the JSON, not its typed column (derived); `psw import-hf` writes the
    rows back and they are typed as when they were first written."""
    with duckdb.connect(str(tmp_path / "source.duckdb")) as con:
        ensure_current(con)
        _write_rows(con, tmp_path)
        con.execute("insert into raw.loads (load_id, kind, source_path, measurement_id, n_records, loaded_at) "
                    "select distinct load_id, 'collect', 'x', 'm', 1, now()::timestamp from "
                    "(select load_id from raw.measurements union select load_id from raw.adaptive_decisions)")
        splits = source_splits.export_tables(con, ["m", "c"])
    for name in ("source_template_catalog", "source_measurements", "source_adaptive_decisions"):
        assert not {"record_typed", "params_typed", "settings_typed"} & set(splits[name].column_names), name
    wrapped = {name: _split(name, table) for name, table in splits.items()}
    source_splits.check(wrapped)
    with duckdb.connect(str(tmp_path / "fresh.duckdb")) as con:
        ensure_current(con)
        source_splits.import_sources(con, wrapped)
        assert _all_typed(con) == EXPECTED
    # a hand-edited setting the rule cannot type is refused before anything is written, naming its row
    decisions = splits["source_adaptive_decisions"]
    edited = decisions.set_column(decisions.column_names.index("settings"), "settings",
                                  pa.array([json.dumps({**SETTINGS, "top_k": "three"})]))
    wrapped["source_adaptive_decisions"] = _split("source_adaptive_decisions", edited, "d.parquet")
    with pytest.raises(UserError, match=r"^split source_adaptive_decisions \(d.parquet\) row 1: settings.top_k is "
                                        r"not INTEGER; nothing imported$"):
        source_splits.check(wrapped)


def test_a_connection_is_brought_current_once(tmp_path):
    """`psw ingest` of several files calls ensure_current for each: after the first, on the same
    connection, it sends DuckDB nothing (two dozen statements, ~38 ms, before)."""
    class Counting:
        def __init__(self, con):
            self.con, self.n = con, 0

        def execute(self, *args):
            self.n += 1
            return self.con.execute(*args)

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        counted = Counting(con)
        ensure_current(counted)
        assert counted.n > 10
        sent = counted.n
        ensure_current(counted)
        assert counted.n == sent
