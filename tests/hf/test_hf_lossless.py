"""Issue 21.6: `psw export-hf` publishes the raw records and their loads beside the marts, and
`psw import-hf` rebuilds from them: export -> import -> build into an empty warehouse gives the
same marts, every row and every column. One warehouse holds the three shapes: the reference pilot
(v2) with its published stats, the v3 export with its stats, and a measured run with raw judgments."""

from __future__ import annotations

import math

import duckdb
import pyarrow.parquet as pq
import pytest

from psw.cli import main
from tests.conftest import PILOT_FILES, PILOT_META, REFERENCE, ROOT

MEASUREMENTS = ["v2_pilot_seed23", "v3_run", "demo_run_artifact"]


@pytest.fixture(scope="module")
def warehouses(v3_files, tmp_path_factory):
    folder = tmp_path_factory.mktemp("lossless")
    # each warehouse the usual file name in a folder of its own: dbt's saved parse is by file name
    source, fresh = folder / "source" / "warehouse.duckdb", folder / "fresh" / "warehouse.duckdb"
    out = folder / "library"
    v3_run = sorted(p for p in v3_files[0] if p.name.startswith("v3_run_"))
    pilot_stats = [REFERENCE / f"v2_pilot_seed23_{n}.jsonl" for n in ("template_pair_stats", "template_stats")]
    assert main(["--db", str(source), "ingest", *map(str, PILOT_FILES + pilot_stats), *PILOT_META]) == 0
    assert main(["--db", str(source), "ingest", *map(str, v3_run)]) == 0
    assert main(["--db", str(source), "ingest", str(ROOT / "data" / "demo" / "demo_run_artifact.json")]) == 0
    assert main(["--db", str(source), "build"]) == 0
    assert main(["--db", str(source), "export-hf", "--out", str(out)]) == 0
    assert main(["--db", str(fresh), "import-hf", str(out)]) == 0
    assert main(["--db", str(fresh), "build"]) == 0
    return source, fresh, out


def marts(db) -> dict[str, tuple[list[str], list[tuple]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        names = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = 'main' order by 1").fetchall()]
        out = {}
        for name in names:
            cur = con.execute(f'select * from main."{name}" order by all')
            out[name] = ([d[0] for d in cur.description], cur.fetchall())
        return out


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)   # a sum's last bit may follow row order
    if isinstance(a, str) and isinstance(b, str) and a != b:
        try:                                     # a number as JSON text (published_comparison.ours)
            return same(float(a), float(b))
        except ValueError:
            return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def test_the_three_shapes_are_in_the_source(warehouses):
    source, _, _ = warehouses
    with duckdb.connect(str(source), read_only=True) as con:
        assert [m for (m,) in con.execute("select measurement_id from measurements order by 1").fetchall()] == sorted(
            MEASUREMENTS)
        published = dict(con.execute("select measurement_id, count(*) from published_comparison group by 1").fetchall())
        judged = con.execute("select count(*) from raw.judgments").fetchone()[0]
    assert published["v2_pilot_seed23"] > 0 and published["v3_run"] > 0 and judged > 0


def test_export_import_build_gives_identical_marts(warehouses):
    source, fresh, _ = warehouses
    before, after = marts(source), marts(fresh)
    assert sorted(after) == sorted(before)
    for name, (columns, rows) in before.items():
        columns_after, rows_after = after[name]
        assert columns_after == columns, name
        assert len(rows_after) == len(rows), (name, len(rows), len(rows_after))
        for old, new in zip(rows, rows_after):
            differs = [(c, a, b) for c, a, b in zip(columns, old, new) if not same(a, b)]
            assert differs == [], (name, differs)
    assert len(before["published_comparison"][1]) > 0 and len(before["examples"][1]) > 0


def test_v3_records_keep_every_field(warehouses):
    source, fresh, _ = warehouses
    query = "select measurement_id, line_no, record::varchar, extra::varchar from raw.exported_pairs order by all"
    with duckdb.connect(str(source), read_only=True) as a, duckdb.connect(str(fresh), read_only=True) as b:
        rows = a.execute(query).fetchall()
        assert rows == b.execute(query).fetchall()
    assert any(extra for *_, extra in rows)  # the pilot's records carry fields no kind knows (source, config)


def test_the_source_split_carries_the_unknown_fields(warehouses):
    source, _, out = warehouses
    [path] = out.rglob("source_exported_pairs*.parquet")
    split = pq.read_table(path, columns=["record_id", "load_id", "extra"])
    with duckdb.connect(str(source), read_only=True) as con:
        held = con.execute("select record_id, load_id, extra::varchar from raw.exported_pairs").fetchall()
    assert sorted(zip(*split.to_pydict().values())) == sorted(held)


def test_importing_the_library_again_adds_nothing(warehouses, tmp_path, capsys):
    _, fresh, out = warehouses
    copy = tmp_path / "again.duckdb"
    copy.write_bytes(fresh.read_bytes())
    capsys.readouterr()
    assert main(["--db", str(copy), "import-hf", str(out)]) == 0
    assert "none (already imported)" in capsys.readouterr().out
