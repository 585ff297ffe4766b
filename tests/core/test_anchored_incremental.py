"""The anchored models are incremental by measurement (dbt/macros/incremental.sql): adding an anchored
run recomputes that run's rows only, and a warehouse that added runs and forgot a load (the one that
held all the successful pairs of a measurement, so the measurement now yields no compared numbers) has
every mart and every anchored model equal to a warehouse that loaded only what is left."""

from __future__ import annotations

import json

import duckdb

import anchored_fixture as fx
from test_inspect_log import good_samples, write_log
from test_records import _marts, _rounded, load_id
from test_v3_artifact import SPECS as V3_SPECS, result as v3_result, write_artifact as write_v3
from tests.conftest import Psw

INCREMENTAL = ["intermediate.int_measurement_protocols", "intermediate.int_anchored_pairs",
               "intermediate.int_anchored_templates"]
# the anchored models (cells and comparisons stay tables: at the benchmark's sizes they cost what the
# incremental machinery would)
ANCHORED = INCREMENTAL + ["intermediate.int_anchored_cells", "intermediate.int_anchored_published"]


def _files(folder) -> dict:
    fx.write(folder / "run.json")
    (folder / "exported_examples.jsonl").write_text(
        "".join(json.dumps(fx.example(r)) + "\n" for r in fx.artifact()["results"]))
    write_v3(folder / "guide_run.json", [v3_result(s) for s in V3_SPECS])
    # the anchored run's failed pair alone: a measurement left with it has no successful pair
    fx.write(folder / "failed_only.json", {**fx.artifact(), "results": [fx.FAILED]})
    write_log(folder / "inspected.eval", good_samples())
    return {name: folder / name for name in ("run.json", "exported_examples.jsonl", "guide_run.json",
                                             "failed_only.json", "inspected.eval")}


def _rowids(db, table: str, measurement: str) -> list[int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [r[0] for r in con.execute(f"select rowid from {table} where measurement_id = ? order by rowid",
                                          [measurement]).fetchall()]


def _tables(db, names: list[str]) -> dict[str, list]:
    """The rows of `names` without the version and load times, floats rounded (test_records._marts' rule)."""
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        for name in names:
            schema, table = name.split(".")
            columns = [c for c, type_ in con.execute(
                "select column_name, data_type from information_schema.columns where table_schema = ? "
                "and table_name = ? order by ordinal_position", [schema, table]).fetchall()
                if c != "measurement_version" and not type_.startswith("TIMESTAMP")]
            listed = ", ".join(f'"{c}"' for c in columns)
            out[name] = sorted(repr(_rounded(r)) for r in con.execute(f"select {listed} from {name}").fetchall())
    return out


def test_adding_and_forgetting_anchored_runs_equals_a_fresh_build(tmp_path, capsys):
    files = _files(tmp_path)
    grown = Psw(tmp_path / "grown" / "warehouse.duckdb", capsys)
    for name in ("run.json", "guide_run.json"):
        assert grown("ingest", files[name])[0] == 0
    assert grown("build")[0] == 0
    before = {t: _rowids(grown.db, t, "run") for t in INCREMENTAL}
    assert all(before.values()), before

    # adding runs: the first run's anchored rows stay where they were (not deleted and rewritten)
    for name in ("exported_examples.jsonl", "inspected.eval"):
        assert grown("ingest", files[name])[0] == 0
    rc, out, err = grown("ingest", files["run.json"], "--measurement", "split")
    assert rc == 0, err
    successful_load = load_id(out)
    rc, _, err = grown("ingest", files["failed_only.json"], "--measurement", "split")
    assert rc == 0, err
    rc, _, err = grown("build")
    assert rc == 0, err
    for table in INCREMENTAL:
        assert _rowids(grown.db, table, "run") == before[table], table
        assert _rowids(grown.db, table, "exported"), table
    assert _rowids(grown.db, "intermediate.int_anchored_pairs", "split")

    # forgetting the load with split's successful pairs: its anchored pairs go, though its
    # recomputation inserts no row (delete+insert alone would keep the old ones)
    assert grown("forget", "--load", successful_load)[0] == 0
    assert grown("forget", "--measurement", "inspected")[0] == 0
    rc, _, err = grown("build")
    assert rc == 0, err
    assert _rowids(grown.db, "intermediate.int_anchored_pairs", "split") == []
    assert _rowids(grown.db, "intermediate.int_anchored_pairs", "inspected") == []

    fresh = Psw(tmp_path / "fresh" / "warehouse.duckdb", capsys)
    for name in ("run.json", "guide_run.json", "exported_examples.jsonl"):
        assert fresh("ingest", files[name])[0] == 0
    assert fresh("ingest", files["failed_only.json"], "--measurement", "split")[0] == 0
    assert fresh("build")[0] == 0
    assert _tables(grown.db, ANCHORED) == _tables(fresh.db, ANCHORED)
    grown_marts, fresh_marts = _marts(grown.db), _marts(fresh.db)
    assert grown_marts.keys() == fresh_marts.keys()
    differ = [t for t in fresh_marts if grown_marts[t] != fresh_marts[t]]
    assert not differ, f"marts that differ from a fresh build: {differ}"
