"""`psw export-vectors`: a cell's vectors as a llama.cpp/repeng GGUF, safetensors and a persona_vectors `.pt`,
each read by its own reader (gguf's GGUFReader, safetensors, torch.load) and back through
`psw ingest --kind vectors` with cosine 1.0, provenance in the file; bad input is one line, exit 2, no file."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest
import torch

from extract.export_vectors import read_pt_provenance
from psw.cli import main

LAYERS = (0, 2)


from test_imported_vectors import query  # noqa: E402  (the extract tests' one reader)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory, tiny):
    from tests.extract.conftest import make_examples_db

    work = tmp_path_factory.mktemp("export")
    db = make_examples_db(work / "w.duckdb")
    model_dir = work / "tiny-model"
    for part in tiny:
        part.save_pretrained(model_dir)
    assert main(["--db", db, "extract", "vectors", "--model", str(model_dir), "--layers", "0,2",
                 "--bootstrap", "0", "--cell", "cell-0"]) == 0
    return db, str(model_dir)


def cell_vectors(db) -> dict[int, np.ndarray]:
    rows = query(db, "select layer, vector from raw.activation_vectors where cell_id = 'cell-0' "
                     "and reduction = 'response_mean' order by layer")
    return {layer: np.asarray(vector, dtype=np.float32) for layer, vector in rows}


def cosine(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize("fmt", ["gguf", "safetensors", "pt"])
def test_each_format_round_trips_through_ingest_with_cosine_one(extracted, tmp_path, fmt, capsys):
    db, model_dir = extracted
    out = tmp_path / f"calm.{fmt}"
    assert main(["--db", db, "export-vectors", "--cell", "cell-0", "--format", fmt, "--out", str(out)]) == 0
    assert f"layers 0, 2" in capsys.readouterr().out
    copy = tmp_path / "copy.duckdb"
    assert main(["--db", str(copy), "ingest", str(out), "--kind", "vectors", "--model", model_dir,
                 "--trait", f"rt_{fmt}"]) == 0
    back = dict(query(copy, "select layer, vector from raw.imported_vectors where trait = ?", [f"rt_{fmt}"]))
    ours = cell_vectors(db)
    assert sorted(back) == list(LAYERS)  # the .pt's zero rows (layer 1, the embedding row) are not directions
    for layer in LAYERS:
        assert cosine(back[layer], ours[layer]) == pytest.approx(1.0, abs=1e-12)
        assert np.asarray(back[layer], dtype=np.float32).tobytes() == ours[layer].tobytes()
    provenance = json.loads(query(copy, "select provenance from raw.imported_vectors where trait = ? limit 1",
                                  [f"rt_{fmt}"])[0][0])
    if fmt != "gguf":  # the gguf's provenance is checked with gguf's own reader below
        written = provenance["file_metadata"]["provenance"]
        written = json.loads(written) if isinstance(written, str) else written
        assert written["cell_id"] == "cell-0" and written["model_id"] == model_dir
        assert written["layers"] == list(LAYERS) and written["pair_ids"] == ["pair-0-0", "pair-0-1", "pair-0-2"]
        assert written["chat_template_hash"] and written["format"] == fmt


def test_the_gguf_is_a_control_vector_for_gguf_s_own_reader(extracted, tmp_path):
    import gguf

    db, model_dir = extracted
    out = tmp_path / "calm.gguf"
    assert main(["--db", db, "export-vectors", "--cell", "cell-0", "--out", str(out)]) == 0  # format from suffix
    reader = gguf.GGUFReader(str(out))

    def field(name):
        found = reader.get_field(name)
        value = found.parts[found.data[0]]
        return bytes(value).decode() if found.types[0] == gguf.GGUFValueType.STRING else int(value[0])

    assert field("general.architecture") == "controlvector"
    assert field("controlvector.model_hint") == "qwen2"
    assert field("controlvector.layer_count") == len(LAYERS)
    ours = cell_vectors(db)
    tensors = {t.name: t for t in reader.tensors}
    assert sorted(tensors) == [f"direction.{layer}" for layer in LAYERS]
    for layer in LAYERS:
        tensor = tensors[f"direction.{layer}"]
        assert tensor.tensor_type == gguf.GGMLQuantizationType.F32
        assert np.array(tensor.data).tobytes() == ours[layer].tobytes()
    provenance = json.loads(field("psw.provenance"))
    assert provenance["model_id"] == model_dir and provenance["vector_ids"].keys() == {"0", "2"}


def test_the_pt_is_persona_vectors_shape_and_one_layer_exports_alone(extracted, tmp_path):
    db, _ = extracted
    out = tmp_path / "cell_response_avg_diff.pt"
    assert main(["--db", db, "export-vectors", "--cell", "cell-0", "--format", "pt", "--out", str(out)]) == 0
    stack = torch.load(out, weights_only=True)
    ours = cell_vectors(db)
    assert list(stack.shape) == [3 + 1, 64]  # [layers + 1, hidden]
    assert not stack[0].any() and not stack[2].any()  # the embedding row, and layer 1 (not extracted)
    assert torch.equal(stack[1], torch.from_numpy(ours[0])) and torch.equal(stack[3], torch.from_numpy(ours[2]))
    assert read_pt_provenance(out)["file_layer_convention"].startswith("row r = hidden_states[r]")
    one = tmp_path / "one.safetensors"
    assert main(["--db", db, "export-vectors", "--cell", "cell-0", "--layer", "2", "--out", str(one)]) == 0
    from safetensors import safe_open

    with safe_open(str(one), framework="pt") as handle:
        assert list(handle.keys()) == ["response_mean.layer2"]


def test_bad_input_is_one_line_exit_2_and_writes_nothing(extracted, tmp_path, capsys, examples_db):
    db, _ = extracted
    cases = [
        (["--db", db, "export-vectors", "--cell", "cell-0", "--out", str(tmp_path / "x.bin")], "pass --format"),
        (["--db", db, "export-vectors", "--cell", "cell-0", "--layer", "1", "--out", str(tmp_path / "x.gguf")],
         "stored layers: 0, 2"),
        (["--db", db, "export-vectors", "--cell", "nope", "--out", str(tmp_path / "x.gguf")], "--cell nope"),
        (["--db", examples_db, "export-vectors", "--out", str(tmp_path / "x.gguf")], "run `psw extract vectors"),
        (["--db", db, "export-vectors", "--cell", "cell-0", "--format", "pt", "--out", str(tmp_path)],
         "is a folder"),
    ]
    for argv, reason in cases:
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and reason in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]  # examples_db's


def test_a_secret_in_the_provenance_is_refused_before_writing(extracted, tmp_path, capsys):
    db, _ = extracted
    planted = tmp_path / "planted.duckdb"
    con = duckdb.connect(str(planted))
    con.execute(f"attach '{db}' as src (read_only)")
    con.execute("create schema raw")
    for table in ("activation_vectors", "activation_runs"):
        con.execute(f"create table raw.{table} as select * from src.raw.{table}")
    con.execute("update raw.activation_vectors set provenance = json_merge_patch(provenance, "
                "'{\"note\": \"key sk-abcdefghijklmnopqrstuvwx0123\"}')")
    con.close()
    out = tmp_path / "x.safetensors"
    assert main(["--db", str(planted), "export-vectors", "--cell", "cell-0", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "API key" in err and "sk-abc" not in err and not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["planted.duckdb"]
