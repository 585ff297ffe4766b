"""The real flow on the reference pilot: ingest -> build -> extract vectors (tiny model from
disk) -> steer -> build fills activation_cell_stats, steering_summary and trait_geometry."""

from __future__ import annotations

import duckdb

from psw.cli import main


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
