"""The real flow on the reference pilot: ingest -> build -> extract vectors (tiny model from
disk) -> steer -> build fills activation_cell_stats, steering_summary and trait_geometry."""

from __future__ import annotations

import math
import re
import shutil

import duckdb

from psw.cli import main
from tests.conftest import PILOT_FILES, PILOT_META


def test_extract_then_build_fills_the_activation_marts(pilot_copy, tiny_path):
    # the shared pilot warehouse (tests/conftest.py): the four pilot files ingested and built before any
    # activation table existed (the staging views read empty)
    db = str(pilot_copy)
    assert main(["--db", db, "extract", "vectors", "--model", tiny_path, "--layers", "1,2",
                 "--measurement", "v2_pilot_seed23"]) == 0
    con = duckdb.connect(db, read_only=True)
    cell = con.execute("select cell_id from main.examples where not is_error order by cell_id limit 1").fetchone()[0]
    con.close()
    assert main(["--db", db, "extract", "steer", "--cell", cell, "--layer", "2", "--coeffs", "-2,0,2",
                 "--max-new-tokens", "4"]) == 0
    assert main(["--db", db, "build"]) == 0

    con = duckdb.connect(db, read_only=True)
    try:
        n_cells = con.execute("select count(distinct cell_id) from main.examples where not is_error").fetchone()[0]
        stats = con.execute("""
            select count(*), count(distinct cell_id), min(n_pairs), count(judge_score),
                   min(mean_cosine_to_cell), max(mean_cosine_to_cell), min(positive_projection_share)
            from main.activation_cell_stats""").fetchone()
        assert stats[0] == n_cells * 2 * 2 and stats[1] == n_cells  # cells x layers x reductions
        assert stats[2] >= 1 and stats[3] == stats[0]
        assert -1 <= stats[4] <= stats[5] <= 1 and stats[6] >= 0
        steering = con.execute("select coeff, n_generations from main.steering_summary order by coeff").fetchall()
        assert [c for c, _ in steering] == [-2, 0, 2] and all(n >= 1 for _, n in steering)
        geometry = con.execute("""
            select count(*), max(abs(cosine - 1)) filter (where cell_id_a = cell_id_b)
            from main.trait_geometry""").fetchone()
        assert geometry[0] == n_cells * n_cells * 2 * 2 and geometry[1] < 1e-5
    finally:
        con.close()


DECLARED_EMPTY = ["layer_choice", "pair_screening", "projection_distribution", "activation_cell_stats"]


def _models_run(db) -> set[str]:
    log = (db.parent / f".{db.name}.dbt" / "logs" / "dbt.log").read_text()
    return set(re.findall(r"Began running node model\.\w+\.(\w+)", log[log.rindex("Running with dbt="):]))


def _rows(db, table: str) -> list[tuple]:
    """The table's rows in an order their text fixes (floats left out of it: see _same)."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(f"select * from main.{table}").fetchall()
    return sorted(rows, key=lambda row: [repr(v) for v in row if not isinstance(v, float)])


def _same(rows: list[tuple], other: list[tuple]) -> bool:
    """Equal rows, floats within 1e-9 relative: DuckDB's parallel sums add in no fixed order."""
    return len(rows) == len(other) and all(
        len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12) if isinstance(x, float)
                                 and isinstance(y, float) else x == y for x, y in zip(a, b))
        for a, b in zip(rows, other))


def test_marts_made_empty_before_any_extraction_are_built_by_the_extraction_as_dbt_builds_them(
        pilot_db, tiny_path, tmp_path):
    """The activation marts declare the raw tables without whose rows they have none
    (`psw_empty_without`, warehouse/empty_models.py): a pilot's first build makes them from the record
    the shared pilot's build kept, and dbt leaves them out, as do the builds of later runs while those
    tables stay empty; the extraction then fills them, and the next build computes the marts as dbt
    computes them when it builds everything again."""
    db = tmp_path / "warehouse.duckdb"
    assert main(["--db", str(db), "ingest", *map(str, PILOT_FILES), *PILOT_META]) == 0
    assert main(["--db", str(db), "build"]) == 0
    assert not set(DECLARED_EMPTY) & _models_run(db)          # made, not run
    assert all(_rows(db, mart) == [] for mart in DECLARED_EMPTY)
    # a later run of pairs: they read the pairs, but their tables are still empty, so they stay as made
    examples = PILOT_FILES[-1]
    assert main(["--db", str(db), "ingest", str(examples), "--measurement", "second"]) == 0
    assert main(["--db", str(db), "build"]) == 0
    assert "int_pairs_scored" in _models_run(db) and not set(DECLARED_EMPTY) & _models_run(db)
    # one that holds a row (written around psw) is built again, whatever its tables hold
    with duckdb.connect(str(db)) as con:
        con.execute("insert into main.layer_choice (vector_id) values ('written around psw')")
    assert main(["--db", str(db), "ingest", str(examples), "--measurement", "third"]) == 0
    assert main(["--db", str(db), "build"]) == 0
    assert set(DECLARED_EMPTY) & _models_run(db) == {"layer_choice"} and _rows(db, "layer_choice") == []
    assert main(["--db", str(db), "extract", "vectors", "--model", tiny_path, "--layers", "1,2",
                 "--measurement", "v2_pilot_seed23"]) == 0
    assert main(["--db", str(db), "build"]) == 0
    assert set(DECLARED_EMPTY) <= _models_run(db)
    built = {mart: _rows(db, mart) for mart in DECLARED_EMPTY}
    assert all(built.values())
    everything = tmp_path / "everything" / "warehouse.duckdb"
    everything.parent.mkdir()
    shutil.copy(db, everything)
    assert main(["--db", str(everything), "build", "--force"]) == 0
    assert set(DECLARED_EMPTY) <= _models_run(everything)
    assert all(_same(_rows(everything, mart), built[mart]) for mart in DECLARED_EMPTY)
