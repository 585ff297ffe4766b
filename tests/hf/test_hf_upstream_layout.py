"""Upstream's published HF layout (one `examples` split beside its stats splits) imports and reproduces."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import REFERENCE


def write_split(folder, name, path):
    rows = [json.loads(line) for line in path.open()]
    columns = sorted({k for row in rows for k in row})
    table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
    pq.write_table(table, folder / f"{name}.parquet")


def test_the_upstream_layout_imports_with_its_stats_and_reproduces_them(tmp_path, run_psw):
    folder = tmp_path / "persona-steering-template-library" / "data"
    folder.mkdir(parents=True)
    write_split(folder, "examples", REFERENCE / "v2_pilot_seed23_examples.jsonl")
    write_split(folder, "template_pair_stats", REFERENCE / "v2_pilot_seed23_template_pair_stats.jsonl")
    write_split(folder, "template_stats", REFERENCE / "v2_pilot_seed23_template_stats.jsonl")
    db = tmp_path / "w.duckdb"
    rc, out, err = run_psw(db, "import-hf", folder.parent, "--measurement", "v2_pilot_seed23")
    assert rc == 0, err
    assert run_psw(db, "build")[0] == 0
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select measurement_id, n_pairs, n_successful_pairs from measurements").fetchall() == [
            ("v2_pilot_seed23", 64, 59)]
        levels = dict(con.execute("select level, count(distinct record_id) from published_comparison "
                                  "group by level").fetchall())
        assert levels == {"template_pair": 16, "template": 4}
        assert con.execute("select count(*) from published_comparison where is_flagged").fetchone() == (0,)


def test_two_different_records_with_one_pair_key_are_refused(tmp_path, run_psw):
    folder = tmp_path / "library" / "data"
    folder.mkdir(parents=True)
    rows = [json.loads(line) for line in (REFERENCE / "v2_pilot_seed23_examples.jsonl").open()][:3]
    rows.append({**rows[0], "axis_delta": 0})
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, folder / "examples.parquet")
    db = tmp_path / "w.duckdb"
    rc, _, err = run_psw(db, "import-hf", folder.parent, "--measurement", "m")
    assert rc == 2 and "row 4: same pair as row 1" in err
    assert not db.exists() or duckdb.connect(str(db)).execute("select count(*) from raw.exported_pairs").fetchone() == (0,)
