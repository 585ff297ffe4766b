"""A library's source splits (the raw records behind an export) are checked like ingest checks a file:
each kind of bad split is one line naming the split and the column or row, and nothing is written."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import REFERENCE

RECORD = json.loads((REFERENCE / "v2_pilot_seed23_examples.jsonl").open().readline())
WHEN = datetime(2026, 1, 1)


def folder_with(tmp_path, pairs: list[dict], loads: list[str] = ("L1",)):
    data = tmp_path / "library" / "data"
    data.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([
        {"load_id": i, "file_sha256": "f", "kind": "examples", "source_path": "x_examples.jsonl",
         "measurement_id": "m", "n_records": 1, "loaded_at": WHEN} for i in loads]), data / "source_loads.parquet")
    pq.write_table(pa.Table.from_pylist(pairs), data / "source_exported_pairs.parquet")
    return data.parent


def pair(**change) -> dict:
    return {"record_id": "r1", "load_id": "L1", "measurement_id": "m", "line_no": 1, "record": json.dumps(RECORD),
            "loaded_at": WHEN, **change}


def test_good_source_splits_load_as_they_were(tmp_path, run_psw):
    db = tmp_path / "w.duckdb"
    rc, out, err = run_psw(db, "import-hf", folder_with(tmp_path, [pair()]))
    assert rc == 0, err
    with duckdb.connect(str(db)) as con:
        assert con.execute("select load_id, line_no, loaded_at from raw.exported_pairs").fetchall() == [
            ("L1", 1, WHEN)]
        assert json.loads(con.execute("select record from raw.exported_pairs").fetchone()[0]) == RECORD


@pytest.mark.parametrize("rows, loads, message", [
    ([pair(bogus=1)], ["L1"], "split source_exported_pairs (", ),
    ([pair(record=json.dumps({k: v for k, v in RECORD.items() if k != "template"}))], ["L1"],
     "row 1: missing required field template"),
    ([pair(load_id="L2")], ["L1"], "rows of load L2, which split source_loads does not list"),
])
def test_a_bad_source_split_is_one_line_and_writes_nothing(tmp_path, run_psw, rows, loads, message):
    db = tmp_path / "w.duckdb"
    rc, _, err = run_psw(db, "import-hf", folder_with(tmp_path, rows, loads))
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err
    if "bogus" in json.dumps(rows, default=str):
        assert "column bogus is not a column of raw.exported_pairs" in err
    assert not db.exists()           # checked before the warehouse is opened
