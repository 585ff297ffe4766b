"""Typed once (issue 21 part 1): the fields a kind does not know are kept in one `extra` JSON column
of its raw table (ingest/typed.py): exactly the record's other top-level members, values as they
came, NULL when there are none; derived by the same rule at ingest and for rows written without it
(import-hf, an older warehouse); published with the source splits and derived again on import."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa

from hf import source_splits
from hf.importer import SourceSplit
from ingest.typed import ensure_current
from tests.conftest import REFERENCE

V2 = json.loads((REFERENCE / "v2_pilot_seed23_examples.jsonl").open().readline())
# names a JSON path would read otherwise, a quote, a backslash, a non-ASCII letter, a known name's
# other case; nested values and a null
ODD = {"a.b": {"c": [1, None, {"d": "e"}]}, "//note": "by hand", 'q"k': None, "back\\slash": [],
       "é": 2.5, "Template": "not the known template"}
_AT = list(V2).index("prompt") + 1
V2_ODD = dict([*list(V2.items())[:_AT], *ODD.items(), *list(V2.items())[_AT:]])  # between known ones
V2_KNOWN_ONLY = {k: v for k, v in V2.items() if k not in ("source", "config")} | {"row": 1000}  # another pair
PAIR = {"id": "pp", "pos": "kind", "x.y": [1, 2], "neg": "cruel", "//note": {"by": "hand"}}
PAIR_KNOWN_ONLY = {"id": "pq", "pos": "calm", "neg": "angry", "trait": "calm"}
STATS = [{"template": "T {persona}", "persona_pair": "pp", "n": 4, "mean_axis_delta": 2.5, "a.b": {"c": 1},
          "recommended": True},
         {"template": "U {persona}", "persona_pair": "pp", "n": 3}]
TABLE_OF = {"examples": "raw.exported_pairs", "pairs": "raw.persona_pairs", "stats": "raw.published_stats",
            "selection": "raw.selections"}


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _extra(db, table: str) -> list:
    """Each row's `extra`, parsed (key order kept), in load and line order."""
    with duckdb.connect(str(db), read_only=True) as con:
        return [None if r[0] is None else json.loads(r[0]) for r in con.execute(
            f"select extra::varchar from {table} order by load_id, line_no").fetchall()]


def _ingest_all(psw, tmp_path) -> None:
    examples = _write(tmp_path / "odd_examples.jsonl", [V2_ODD, V2_KNOWN_ONLY])
    assert psw("ingest", examples, "--measurement", "m")[0] == 0
    assert psw("ingest", _write(tmp_path / "pairs.jsonl", [PAIR, PAIR_KNOWN_ONLY]), "--kind", "pairs")[0] == 0
    stats = _write(tmp_path / "run_template_pair_stats.jsonl", STATS)
    assert psw("ingest", stats, "--kind", "stats", "--measurement", "m")[0] == 0
    (tmp_path / "pool_summary.json").write_text(json.dumps(
        {"template": "T {persona}", "axis": "pp", "n_selected": 1, "thresholds": {"min_score": 1}}))
    assert psw("ingest", tmp_path / "pool_summary.json", "--kind", "selection")[0] == 0


def test_extra_holds_exactly_the_fields_no_kind_knows(psw, tmp_path):
    _ingest_all(psw, tmp_path)
    odd, known_only = _extra(psw.db, "raw.exported_pairs")
    # the pilot's own unknown fields (a scenario's source and config) and the odd ones, in the record's order
    assert list(odd.items()) == [("source", V2["source"]), ("config", V2["config"]), *ODD.items()]
    assert known_only is None
    assert _extra(psw.db, "raw.persona_pairs") == [{"x.y": [1, 2], "//note": {"by": "hand"}}, None]
    assert _extra(psw.db, "raw.published_stats") == [{"mean_axis_delta": 2.5, "a.b": {"c": 1}, "recommended": True},
                                                     None]
    assert _extra(psw.db, "raw.selections") == [{"thresholds": {"min_score": 1}}]
    with duckdb.connect(str(psw.db), read_only=True) as con:  # the line itself is kept whole beside it
        assert con.execute("select record::varchar from raw.exported_pairs where line_no = 1").fetchone()[0] \
            == json.dumps(V2_ODD)


def test_rows_written_without_extra_get_it_by_the_same_rule(psw, tmp_path):
    """A warehouse made before either column, one made before `extra` (its `fields` typed), and rows
    import-hf writes (neither set) get exactly what ingest's hot path derived."""
    _ingest_all(psw, tmp_path)
    as_ingested = {table: _extra(psw.db, table) for table in TABLE_OF.values()}
    for table in TABLE_OF.values():
        for making in ([f"alter table {table} drop column fields", f"alter table {table} drop column extra"],
                       [f"alter table {table} drop column extra"],
                       [f"update {table} set fields = null, extra = null"]):
            with duckdb.connect(str(psw.db)) as con:
                for sql in making:
                    con.execute(sql)
                ensure_current(con)
            assert _extra(psw.db, table) == as_ingested[table], (table, making)


def test_the_source_splits_carry_extra_and_import_derives_it_again(psw, tmp_path):
    _ingest_all(psw, tmp_path)
    with duckdb.connect(str(psw.db), read_only=True) as con:
        held = {table: con.execute(f"select record_id, extra::varchar from {table}").fetchall()
                for table in ("raw.exported_pairs", "raw.persona_pairs", "raw.published_stats")}
        splits = source_splits.export_tables(con, ["m"])
    for name, table in (("source_exported_pairs", "raw.exported_pairs"), ("source_persona_pairs", "raw.persona_pairs"),
                        ("source_published_stats", "raw.published_stats")):
        rows = splits[name]
        assert "fields" not in rows.column_names
        assert sorted(zip(rows.column("record_id").to_pylist(), rows.column("extra").to_pylist())) \
            == sorted(held[table]), name
    # a split's `extra` is not read: an edited one (or one of another release) is derived again
    pairs = splits["source_exported_pairs"]
    edited = pairs.set_column(pairs.column_names.index("extra"), "extra",
                              pa.array(['{"edited": true}'] * pairs.num_rows, pa.string()))
    given = {name: SourceSplit(name, table, f"test/{name}", "0") for name, table in
             {**splits, "source_exported_pairs": edited}.items()}
    fresh = tmp_path / "fresh.duckdb"
    with duckdb.connect(str(fresh)) as con:
        ensure_current(con)
        source_splits.import_sources(con, given)
    for table, rows in held.items():
        with duckdb.connect(str(fresh), read_only=True) as con:
            assert sorted(con.execute(f"select record_id, extra::varchar from {table}").fetchall()) == sorted(rows)
