"""A warehouse of the previous raw schema (version 1: rows shared by every load, candidate tables keyed
by record_id alone, ids md5(measurement || line)) is migrated in place by the next writing command,
losing no row (issue 21, part 8)."""

from __future__ import annotations

import json

import duckdb

from tests.conftest import REFERENCE

EXAMPLES = REFERENCE / "v2_pilot_seed23_examples.jsonl"
PAIRS = REFERENCE / "persona_pairs_v2_candidates.jsonl"


def _make_version_1(db) -> dict[str, int]:
    """Turn a warehouse into the previous release's shape: what version 1 declared and stored."""
    with duckdb.connect(str(db)) as con:
        con.execute("drop table raw.schema_version")
        con.execute("alter table raw.loads drop column n_blank_lines")
        con.execute("alter table raw.pairs drop column record_id")
        for table in ("exported_pairs", "persona_pairs", "scenarios", "published_stats", "selections"):  # typed later
            con.execute(f"alter table raw.{table} drop column fields")
            con.execute(f"alter table raw.{table} drop column extra")
        for table, column in (("measurements", "params_typed"), ("template_catalog", "record_typed"),
                              ("adaptive_decisions", "settings_typed")):  # typed later too
            con.execute(f"alter table raw.{table} drop column {column}")
        for table, text in (("persona_pairs", "record::varchar"), ("scenarios", "record::varchar"),
                            ("templates", "template_text")):
            con.execute(f"create table raw.{table}_v1 as select * from raw.{table}")
            con.execute(f"drop table raw.{table}")
            columns = con.execute(f"describe raw.{table}_v1").fetchall()
            ddl = ", ".join(f"{name} {type_}" + (" primary key" if name == "record_id" else "")
                            for name, type_, *_ in columns)
            con.execute(f"create table raw.{table} ({ddl})")
            con.execute(f"insert into raw.{table} by name select * replace (md5({text}) as record_id) "
                        f"from raw.{table}_v1")
            con.execute(f"drop table raw.{table}_v1")
        con.execute("update raw.exported_pairs set record_id = md5(measurement_id || record::varchar)")
        return {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0]
                for t in ("persona_pairs", "scenarios", "templates", "exported_pairs", "measurements", "loads")}


def test_a_version_1_warehouse_is_migrated_losing_nothing(psw, tmp_path):
    catalog = tmp_path / "template_catalog.yaml"
    catalog.write_text('- template_jinja: "Be {{ persona }}."\n  status: excluded\n  family: short\n')
    assert psw("ingest", PAIRS, REFERENCE / "scenarios_v2_candidates.jsonl",
               REFERENCE / "templates_v2_candidates.txt", EXAMPLES, catalog)[0] == 0
    before = _make_version_1(psw.db)
    with duckdb.connect(str(psw.db), read_only=True) as con:
        assert con.execute("select constraint_column_names from duckdb_constraints() where schema_name = 'raw' "
                           "and table_name = 'persona_pairs' and constraint_type = 'PRIMARY KEY'").fetchone() \
            == (["record_id"],)
    # the same records, re-serialised, in a new file: the migrated ids are the parsed records' ids
    again = tmp_path / "again_examples.jsonl"
    again.write_text("".join(json.dumps(json.loads(line), sort_keys=True) + "\n" for line in EXAMPLES.open()))
    rc, out, err = psw("ingest", again, "--measurement", "v2_pilot_seed23")
    assert rc == 0, err
    assert "loaded 64 examples records (0 new)" in out
    with duckdb.connect(str(psw.db), read_only=True) as con:
        assert con.execute("select max(version) from raw.schema_version").fetchone()[0] == 2
        # every measurement row is typed, the old ones included, by the rule the writers use
        assert con.execute("select count(*) from raw.measurements where params_typed is null "
                           "or params_typed.protocol is distinct from params ->> 'protocol'").fetchone()[0] == 0
        assert con.execute("select record_typed.status, record_typed.family, record_typed.kind "
                           "from raw.template_catalog").fetchall() == [("excluded", "short", None)]
        after = {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in before}
        assert after == {**before, "exported_pairs": 128, "measurements": before["measurements"] + 1,
                         "loads": before["loads"] + 1}
        assert con.execute("select constraint_column_names from duckdb_constraints() where schema_name = 'raw' "
                           "and table_name = 'persona_pairs' and constraint_type = 'PRIMARY KEY'").fetchone() \
            == (["record_id", "load_id"],)
        assert con.execute("select count(distinct record_id) from raw.exported_pairs").fetchone()[0] == 64
    # the candidates re-serialised are the same 16 records (their migrated ids are the parsed records')
    copy = tmp_path / "pairs_copy.jsonl"
    copy.write_text("".join(json.dumps(json.loads(line), sort_keys=True) + "\n" for line in PAIRS.open()))
    rc, out, _ = psw("ingest", copy)
    assert rc == 0 and "(0 new)" in out and "defined differently" not in out


class _Counting:
    """A connection that keeps the SQL it was given (ensure_current's statements)."""

    def __init__(self, con):
        self._con, self.statements = con, []

    def execute(self, sql, *params):
        self.statements.append(" ".join(str(sql).split()))
        return self._con.execute(sql, *params)

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_a_current_warehouse_is_checked_by_one_catalog_query_and_a_missing_part_is_added_again(psw):
    from ingest.typed import ensure_current
    from warehouse.db import connect

    assert psw("ingest", EXAMPLES)[0] == 0
    with connect(psw.db) as con:
        counting = _Counting(con)
        ensure_current(counting)
    # current: no DDL at all (RAW_DDL's ~30 statements, one catalog query per column, ran before)
    ddl = [s for s in counting.statements if s.split()[0].lower() in ("create", "alter", "drop")]
    assert ddl == [] and len(counting.statements) <= 8, counting.statements
    # a table and an added column gone (as an older release, or a hand, left them): both come back
    with duckdb.connect(str(psw.db)) as con:
        con.execute("drop table raw.imported_projections")
        con.execute("alter table raw.loads drop column n_blank_lines")
        con.execute("alter table raw.exported_pairs drop column extra")
    with connect(psw.db) as con:
        ensure_current(con)
        assert con.execute("select count(*) from information_schema.tables where table_schema = 'raw' "
                           "and table_name = 'imported_projections'").fetchone()[0] == 1
        assert con.execute("select count(*) from raw.loads where n_blank_lines is null").fetchone()[0] == 1
        # `extra` added again and derived for every row that had it
        assert con.execute("select count(*) from raw.exported_pairs where extra is null and fields is null"
                           ).fetchone()[0] == 0
    assert psw("ingest", REFERENCE / "persona_pairs_v2_candidates.jsonl")[0] == 0
