"""Upstream's own HF folder (main, template_pair_cells, persona_pairs, examples, controls) imports:
the examples become the measurement's pairs with every field, the summary splits published numbers
that published_comparison compares at their own levels, and the build reproduces upstream's cells."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from psw.cli import main
from tests.conftest import REFERENCE
from tests.hf.upstream_hf_folder import write_folder


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("upstream") / "persona-steering-template-library-hf"
    tables = write_folder(folder, REFERENCE)
    db = folder.parent / "w.duckdb"
    assert main(["--db", str(db), "import-hf", str(folder)]) == 0
    assert main(["--db", str(db), "build"]) == 0
    return db, tables


def query(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_examples_become_the_measurement_with_every_field(imported):
    db, _ = imported
    assert query(db, "select measurement_id, generator_model, seed, n_pairs, n_successful_pairs from measurements") \
        == [("v2_pilot_seed23", "qwen/qwen3.5-27b", 23, 64, 59)]
    source = [json.loads(line) for line in (REFERENCE / "v2_pilot_seed23_examples.jsonl").open()]
    stored = [json.loads(r) for (r,) in query(db, "select record from raw.exported_pairs order by line_no")]
    assert stored == source       # every field, every value, as the examples file had it


def test_upstream_cells_are_reproduced_at_each_level(imported):
    db, _ = imported
    counts = dict(query(db, "select level, count(distinct record_id) from published_comparison "
                            "where measurement_id = 'v2_pilot_seed23' group by level"))
    assert counts == {"template_pair_cell": 16, "template_main": 4, "persona_pair": 16}
    flagged = query(db, "select level, template_text, persona_pair_id, column_name, published, ours "
                        "from published_comparison where is_flagged and measurement_id = 'v2_pilot_seed23'")
    assert flagged == []
    matched = dict(query(db, "select column_name, count(*) from published_comparison where status = 'match' "
                             "and level = 'template_pair_cell' group by 1"))
    assert matched["score"] == matched["on_axis"] == matched["off_axis"] == matched["n_errors"] == 16
    # upstream's on/off-axis score sits beside the guide's: the top cell is 36.6 on the guide's score
    top = query(db, "select score, score_axis_off_axis, on_axis, off_axis from template_pair_scores "
                    "order by score desc limit 1")[0]
    assert top[0] == 36.6 and top[1] == round(100 * top[2] * (1 - top[3]), 1)


def test_persona_pairs_enter_the_candidates_and_controls_their_own_measurement(imported):
    db, _ = imported
    assert query(db, "select count(*) from persona_pair_review")[0][0] == 16
    controls = query(db, "select measurement_id, level, status, count(*) from published_comparison "
                         "where measurement_id like 'control%' group by all")
    assert {(m, level, status) for m, level, status, _ in controls} == {
        ("control_baseline_seed23", "template_pair", "cell_missing")}


def bad_folder(tmp_path, **change):
    folder = tmp_path / "lib"
    splits = change.pop("splits", None)
    write_folder(folder, REFERENCE, **({"splits": splits} if splits else {}))
    for name, (column, values) in change.items():
        path = folder / "parquet" / f"{name}.parquet"
        table = pq.read_table(path)
        i = table.schema.get_field_index(column)
        table = table.set_column(i, column, pa.array(values(table.num_rows)))
        pq.write_table(table, path)
    return folder


@pytest.mark.parametrize("change, message", [
    ({"splits": ["main", "template_pair_cells", "persona_pairs", "controls"]}, "missing split examples"),
    ({"splits": ["main", "examples"]}, "missing split template_pair_cells"),
    ({"template_pair_cells": ("score", lambda n: ["high"] * n)},
     "template_pair_cells.parquet: column score is text, expected a number"),
    ({"examples": ("axis_delta", lambda n: ["4"] * n)}, "examples.parquet: column axis_delta is text, expected a number"),
    ({"template_pair_cells": ("axis_judge_models", lambda n: ["[not json"] * n)},
     "template_pair_cells.parquet row 1: column axis_judge_models is not the JSON text"),
])
def test_a_bad_upstream_folder_is_one_line_naming_file_and_column(tmp_path, run_psw, change, message):
    folder = bad_folder(tmp_path, **change)
    db = tmp_path / "w.duckdb"
    rc, _, err = run_psw(db, "import-hf", folder)
    assert rc != 0 and message in err and len(err.strip().splitlines()) == 1, err
    assert not db.exists() or duckdb.connect(str(db)).execute("select count(*) from raw.loads").fetchone() == (0,)
