"""Bad vector and projection files are refused whole: one line naming the file (and the tensor or
column), exit 2, nothing written; a pickle payload is never run."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import duckdb
import numpy as np
import pytest
import torch

from imported_files import (HIDDEN, N_LAYERS, our_layers, persona_stack, write_per_layer_safetensors,
                            write_persona_pt, write_projection_csv, write_repeng_gguf)
from psw.cli import main
from tests.conftest import ROOT


class Payload:
    """Unpickling this runs a shell command that leaves a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def imported_rows(db) -> int:
    if not db.exists():
        return 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables "
                                            "where table_schema = 'raw'").fetchall()}
        return sum(con.execute(f"select count(*) from raw.{t}").fetchone()[0]
                   for t in ("imported_vectors", "imported_projections", "loads") if t in tables)
    finally:
        con.close()


def refused(tmp_path, capsys, path, *options) -> str:
    db = tmp_path / "w.duckdb"
    capsys.readouterr()
    assert main(["--db", str(db), "ingest", str(path), *options]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert imported_rows(db) == 0
    return err


def test_a_pickle_payload_is_refused_and_never_run(tmp_path, tiny_path, capsys):
    marker = tmp_path / "payload-ran"
    as_torch = tmp_path / "evil_response_avg_diff.pt"
    torch.save({"0": Payload(marker), "1": persona_stack()[1]}, as_torch)  # a zip with data.pkl
    as_pickle = tmp_path / "plain_prompt_last_diff.pt"
    as_pickle.write_bytes(pickle.dumps(Payload(marker)))  # a bare pickle named .pt
    for path in (as_torch, as_pickle):
        err = refused(tmp_path, capsys, path, "--model", tiny_path)
        assert str(path) in err and "refused" in err and "weights_only" not in err
    assert not marker.exists()
    assert "posix.system" in refused(tmp_path, capsys, as_torch, "--model", tiny_path, "--kind", "vectors")
    assert not marker.exists()


@pytest.mark.parametrize("shape, words", [
    ((N_LAYERS + 1, 32), "shape [4, 32]"),          # another hidden size
    ((N_LAYERS + 2, HIDDEN), "shape [5, 64]"),      # another layer count
    ((HIDDEN,), "tensor of shape [64]"),            # not a [layers + 1, hidden] stack
])
def test_shapes_that_do_not_fit_the_model(tmp_path, tiny_path, capsys, shape, words):
    path = tmp_path / "evil_response_avg_diff.pt"
    torch.save(torch.randn(*shape), path)
    err = refused(tmp_path, capsys, path, "--model", tiny_path)
    assert str(path) in err and words in err


def test_nan_and_inf_entries_name_the_tensor(tmp_path, tiny_path, capsys):
    stack = persona_stack()
    stack[2, 5] = float("nan")
    err = refused(tmp_path, capsys, write_persona_pt(tmp_path, "evil", stack), "--model", tiny_path)
    assert "evil_response_avg_diff.pt[2]" in err and "NaN or inf" in err
    directions = {k: v.numpy() for k, v in our_layers(persona_stack()).items()}
    directions[1] = directions[1].copy()
    directions[1][0] = np.inf
    err = refused(tmp_path, capsys, write_repeng_gguf(tmp_path / "calm.gguf", directions), "--model", tiny_path)
    assert "calm.gguf: tensor direction.1: NaN or inf" in err


def test_layers_the_model_lacks(tmp_path, tiny_path, capsys):
    layers = our_layers(persona_stack())
    path = write_per_layer_safetensors(tmp_path / "v.safetensors", {**layers, N_LAYERS: layers[0].clone()})
    err = refused(tmp_path, capsys, path, "--model", tiny_path)
    assert "tensor layer.3" in err and "layers 0..2" in err
    gguf = write_repeng_gguf(tmp_path / "calm.gguf", {k: v.numpy() for k, v in layers.items()})
    err = refused(tmp_path, capsys, gguf, "--model", tiny_path, "--layer-offset", "1")
    assert "direction.2" in err and "is layer 3" in err
    table = write_projection_csv(tmp_path / "p.csv", [
        {"prompt": "Q", "answer": "A", "evil_response_avg_diff_proj_layer3": 1.0,
         "evil_response_avg_diff_proj_layer4": 2.0}])
    err = refused(tmp_path, capsys, table, "--model", tiny_path)
    assert "column evil_response_avg_diff_proj_layer4" in err and "layers 0..2" in err


def test_projection_values_must_be_finite_numbers(tmp_path, tiny_path, capsys):
    table = write_projection_csv(tmp_path / "p.csv", [
        {"prompt": "Q1", "answer": "A1", "evil_prompt_last_diff_proj_layer1": 0.5},
        {"prompt": "Q2", "answer": "A2", "evil_prompt_last_diff_proj_layer1": "nan"}])
    err = refused(tmp_path, capsys, table, "--model", tiny_path)
    assert f"{table}:3: column evil_prompt_last_diff_proj_layer1" in err
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"prompt": "Q", "answer": "A", "evil_prompt_last_diff_proj_layer1": 1}\n'
                     '{"prompt": "Q", "answer": "A"}\n')
    assert f"{jsonl}:2: no <trait>_<vector>_proj_layer<L> column" in refused(tmp_path, capsys, jsonl,
                                                                             "--model", tiny_path)


def test_the_model_must_be_named_and_resolvable(tmp_path, tiny_path, capsys):
    path = write_persona_pt(tmp_path, "evil", persona_stack())
    assert "pass --model ID" in refused(tmp_path, capsys, path)
    err = refused(tmp_path, capsys, path, "--model", "no-such-org/no-such-model")
    assert "cannot read its config offline" in err and "local model folder" in err
    gguf = write_repeng_gguf(tmp_path / "calm.gguf", {0: np.ones(HIDDEN, dtype=np.float32)}, model_hint="llama")
    assert "model_hint is 'llama'" in refused(tmp_path, capsys, gguf, "--model", tiny_path)


def test_a_bad_file_does_not_stop_a_good_one(tmp_path, tiny_path, capsys):
    good = write_persona_pt(tmp_path, "evil", persona_stack())
    bad = tmp_path / "bad_response_avg_diff.pt"
    bad.write_bytes(b"not a tensor file")
    db = tmp_path / "w.duckdb"
    assert main(["--db", str(db), "ingest", str(good), str(bad), "--model", tiny_path]) == 2
    assert "not a torch tensor file" in capsys.readouterr().err
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select distinct source_path from raw.imported_vectors").fetchall() == [(str(good),)]
    con.close()


def test_ingesting_jsonl_never_imports_torch(tmp_path):
    code = ("import sys; from psw.cli import main; "
            f"rc = main(['--db', {str(tmp_path / 'w.duckdb')!r}, 'ingest', 'data/demo/persona_pairs.jsonl']); "
            "print(rc, sorted(m for m in ('torch', 'transformers', 'gguf', 'safetensors') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout
    assert out.strip().splitlines()[-1] == "0 []"
