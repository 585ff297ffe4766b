"""`psw ingest` of vectors and projection tables from other tools, for the tiny in-test model:
each format loads bit for bit into our layer numbering, and the imported vectors reach
trait_geometry, projection_distribution, the imported_vectors mart, steering and projection."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest

from imported_files import (HIDDEN, N_LAYERS, our_layers, persona_stack, write_per_layer_safetensors,
                            write_persona_pt, write_projection_csv, write_repeng_gguf, write_stacked_safetensors)
from psw.cli import main


def query(db, sql, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def stored(db, trait):
    """{layer: float32 array} as stored for the trait."""
    rows = query(db, "select layer, vector from raw.imported_vectors where trait = ? order by layer", [trait])
    return {layer: np.asarray(vector, dtype=np.float32) for layer, vector in rows}


def assert_bit_for_bit(db, trait, expected):
    got = stored(db, trait)
    assert sorted(got) == list(range(N_LAYERS))
    for layer, vector in expected.items():
        assert got[layer].tobytes() == np.asarray(vector, dtype=np.float32).tobytes(), (trait, layer)


@pytest.fixture
def files(tmp_path):
    stack = persona_stack()
    folder = tmp_path / "in"
    folder.mkdir()
    layers = our_layers(stack)
    return {
        "stack": stack,
        "pt": write_persona_pt(folder, "evil", stack),
        "gguf": write_repeng_gguf(folder / "calm.gguf", {k: v.numpy() for k, v in layers.items()}),
        "per_layer": write_per_layer_safetensors(folder / "per_layer.safetensors", layers),
        "stacked": write_stacked_safetensors(folder / "stacked.safetensors", stack[1:]),
    }


def test_every_format_loads_bit_for_bit_in_our_layers(tmp_path, tiny_path, files, capsys):
    db = tmp_path / "w.duckdb"
    paths = [str(files[k]) for k in ("pt", "gguf", "per_layer", "stacked")]
    assert main(["--db", str(db), "ingest", *paths, "--model", tiny_path]) == 0  # kinds detected
    expected = our_layers(files["stack"])
    for trait in ("evil", "calm", "per_layer", "stacked"):
        assert_bit_for_bit(db, trait, expected)
    rows = query(db, """select trait, source_format, reduction, min(source_layer), min(layer_offset),
                               any_value(layer_convention), any_value(hidden_size), count(distinct file_sha256)
                        from raw.imported_vectors group by all order by trait""")
    assert [r[:5] for r in rows] == [
        ("calm", "repeng_gguf", "unspecified", 0, 0), ("evil", "persona_vectors_pt", "response_mean", 1, -1),
        ("per_layer", "safetensors_per_layer", "unspecified", 0, 0),
        ("stacked", "safetensors_stacked", "unspecified", 0, 0)]
    assert all(r[6] == HIDDEN and r[7] == 1 for r in rows)
    assert "embedding" in dict((r[0], r[5]) for r in rows)["evil"]
    provenance = json.loads(query(db, "select provenance from raw.imported_vectors where trait = 'evil' "
                                      "limit 1")[0][0])
    assert provenance["skipped_embedding_rows"] == ["evil_response_avg_diff.pt[0]"]
    loads = query(db, "select kind, source_path, file_sha256 is not null from raw.loads order by source_path")
    assert [(k, p) for k, p, _ in loads] == sorted(("vectors", p) for p in paths) and all(r[2] for r in loads)
    # the same files again add nothing
    capsys.readouterr()
    assert main(["--db", str(db), "ingest", *paths, "--model", tiny_path]) == 0
    assert capsys.readouterr().out.count("nothing added") == 4
    assert query(db, "select count(*) from raw.imported_vectors") == [(4 * N_LAYERS,)]


def test_layer_offset_and_our_own_export(tmp_path, tiny_path, files):
    db = tmp_path / "w.duckdb"
    # a [layers + 1, hidden] safetensors stack in hidden_states numbering: say so with the offset
    full = write_stacked_safetensors(tmp_path / "hs.safetensors", files["stack"])
    assert main(["--db", str(db), "ingest", str(full), "--model", tiny_path, "--layer-offset", "-1",
                 "--trait", "hs"]) == 0
    assert_bit_for_bit(db, "hs", our_layers(files["stack"]))
    assert query(db, "select distinct layer_offset from raw.imported_vectors") == [(-1,)]
    # a file in our own layout (`<reduction>.layer<L>` + provenance), as extract writes it
    from extract.store import save_cell_file
    from extract.vectors import CellVector

    vectors = [CellVector("cell-x", layer, "prompt_last", ("p1",), vector)
               for layer, vector in our_layers(files["stack"]).items()]
    ours = tmp_path / "cell-x__run.safetensors"
    save_cell_file(ours, vectors, {"cell_id": "cell-x", "model_id": tiny_path})
    assert main(["--db", str(db), "ingest", str(ours), "--model", tiny_path]) == 0
    assert_bit_for_bit(db, "cell-x", our_layers(files["stack"]))
    assert query(db, "select distinct source_format, reduction from raw.imported_vectors where trait = 'cell-x'") \
        == [("psw_safetensors", "prompt_last")]


def test_imported_vectors_reach_geometry_projections_and_the_marts(examples_db, tiny_path, files, tmp_path):
    db = examples_db
    assert main(["--db", db, "extract", "vectors", "--model", tiny_path, "--layers", "1,2"]) == 0
    assert main(["--db", db, "ingest", str(files["pt"]), "--model", tiny_path]) == 0
    assert main(["--db", db, "ingest", str(files["pt"]), "--model", tiny_path, "--trait", "evil_copy"]) == 0
    assert main(["--db", db, "ingest", str(files["gguf"]), "--model", tiny_path]) == 0
    table = write_projection_csv(tmp_path / "evil_proj.csv", [
        {"question_id": "q1", "prompt": "What now?", "answer": "Report it, openly.", "evil": 12,
         "tiny_evil_response_avg_diff_proj_layer2": 1.25, "tiny_evil_response_avg_diff_proj_layer3": -0.5},
        {"question_id": "q2", "prompt": "And then?", "answer": "Keep quiet.", "evil": 81,
         "tiny_evil_response_avg_diff_proj_layer2": 2.5, "tiny_evil_response_avg_diff_proj_layer3": 4.0}])
    assert main(["--db", db, "ingest", str(table), "--model", tiny_path, "--trait", "evil"]) == 0
    scenarios = tmp_path / "s.txt"
    scenarios.write_text("What now?\n")
    assert main(["--db", db, "extract", "steer", "--vector", "calm", "--layer", "1", "--coeffs", "0,2",
                 "--scenarios", str(scenarios), "--max-new-tokens", "3"]) == 0
    assert main(["--db", db, "build"]) == 0

    copies = query(db, """select layer, cosine from trait_geometry
                          where label_a = 'trait:evil' and label_b = 'trait:evil_copy' order by layer""")
    assert [layer for layer, _ in copies] == list(range(N_LAYERS))
    assert all(abs(cosine - 1) < 1e-6 for _, cosine in copies)
    # the copy's vector is the same bits, and the GGUF's direction is the same direction
    assert stored(db, "evil_copy")[1].tobytes() == stored(db, "evil")[1].tobytes()
    assert all(abs(c - 1) < 1e-6 for (c,) in query(db, "select cosine from trait_geometry "
                                                       "where label_a = 'trait:evil' and label_b = 'trait:calm'"))
    beside_cells = query(db, """select count(*), count(distinct layer), min(hidden_size) from trait_geometry
                                where vector_kind_a = 'imported' and vector_kind_b = 'cell'""")
    assert beside_cells == [(3 * 2 * 2 * 2, 2, HIDDEN)]  # 3 traits x 2 layers x 2 cells x 2 reductions
    assert query(db, "select count(*) from trait_geometry where vector_kind_a = 'cell' and vector_kind_b = 'cell' "
                     "and reduction <> reduction_b") == [(0,)]
    imported = query(db, """select source_id, trait, layer, projection, source_path, column_name, reduction
                            from projection_distribution where condition = 'imported' order by all""")
    assert [(r[0], r[2], r[3]) for r in imported] == [
        (f"{table}:2", 1, 1.25), (f"{table}:2", 2, -0.5), (f"{table}:3", 1, 2.5), (f"{table}:3", 2, 4.0)]
    assert {(r[1], r[4], r[6]) for r in imported} == {("evil", str(table), "response_mean")}
    listed = query(db, "select trait, count(*), min(layer), max(layer), sum(n_steering_generations) "
                       "from imported_vectors group by 1 order by 1")
    assert listed == [("calm", 3, 0, 2, 2), ("evil", 3, 0, 2, 0), ("evil_copy", 3, 0, 2, 0)]
    assert query(db, "select cell_id, coeff, n_generations from steering_summary order by coeff") == [
        ("trait:calm", 0, 1), ("trait:calm", 2, 1)]


def test_the_steering_page_lists_imported_vectors(pilot_copy, tiny_path, files, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    db = str(pilot_copy)
    for path, trait in ((files["pt"], "evil"), (files["pt"], "evil_copy"), (files["gguf"], "calm")):
        assert main(["--db", db, "ingest", str(path), "--model", tiny_path, "--trait", trait]) == 0
    scenarios = tmp_path / "s.txt"
    scenarios.write_text("What now?\n")
    assert main(["--db", db, "extract", "steer", "--vector", "calm", "--layer", "1", "--coeffs", "0,2",
                 "--scenarios", str(scenarios), "--max-new-tokens", "3"]) == 0
    assert main(["--db", db, "build", "--select", "+imported_vectors", "+trait_geometry", "+steering_summary"]) == 0
    monkeypatch.setenv("PSW_DB", db)
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("views/steering.py").run()
    assert not at.exception, [e.value for e in at.exception]
    listed = next(frame.value for frame in at.dataframe if "source_format" in frame.value.columns)
    assert sorted(listed["trait"]) == ["calm", "evil", "evil_copy"] and set(listed["n_layers"]) == {3}
    assert listed.set_index("trait").loc["calm", "n_steering_generations"] == 2
    cell = at.selectbox(key="steering_cell")
    assert cell.value == "trait:calm" and "imported vector trait:calm" in cell.format_func("trait:calm")
    geometry = [c.proto.spec for c in at.get("vega_lite_chart") if '"rect"' in c.proto.spec]
    assert len(geometry) == 1


def test_steer_and_project_with_an_imported_vector(examples_db, tiny_path, files, tmp_path):
    db = examples_db
    assert main(["--db", db, "ingest", str(files["gguf"]), "--model", tiny_path, "--trait", "calm"]) == 0
    scenarios = tmp_path / "s.jsonl"
    scenarios.write_text('{"id": "a", "prompt": "What now?"}\n')
    assert main(["--db", db, "extract", "steer", "--vector", "calm", "--layer", "2", "--coeffs", "-2,0,2",
                 "--scenarios", str(scenarios), "--max-new-tokens", "4"]) == 0
    generations = query(db, "select cell_id, layer, coeff, vector_id from raw.steering_generations order by coeff")
    calm_2 = query(db, "select vector_id from raw.imported_vectors where trait = 'calm' and layer = 2")[0][0]
    assert [g[:3] for g in generations] == [("trait:calm", 2, -2), ("trait:calm", 2, 0), ("trait:calm", 2, 2)]
    assert {g[3] for g in generations} == {calm_2}
    assert main(["--db", db, "extract", "project", "--vector", "calm", "--layer", "2"]) == 0
    kinds = dict(query(db, "select response_kind, count(*) from raw.activation_projections "
                           "where vector_id = ? group by 1", [calm_2]))
    assert kinds == {"prompted_pos": 6, "prompted_neg": 6, "baseline": 1, "steered": 2}  # every pair, both poles
    assert main(["--db", db, "extract", "project", "--vector", "calm", "--layer", "1", "--cell", "cell-0"]) == 0
    assert query(db, "select count(*) from raw.activation_projections as p join raw.imported_vectors as v "
                     "using (vector_id) where v.layer = 1") == [(6,)]


def test_judging_an_imported_vector_asks_about_its_trait_by_name():
    from psw.commands.extract import _trait_description

    described = _trait_description(None, {"cell_id": None, "trait": "evil"})
    assert "'evil'" in described["pos"] and "none of the trait 'evil'" in described["neg"]
