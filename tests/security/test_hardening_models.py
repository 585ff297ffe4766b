"""Issue 23, items 11 (steering vector size) and 12: a vector of the wrong size is one clear
error, not a bare torch RuntimeError; a model whose config carries `auto_map` is refused without
a prompt and without running its code, unless --trust-remote-code is given."""

from __future__ import annotations

import json

import pytest
import torch

from extract.testing import tiny_model_and_tokenizer
from security_helpers import one_line_error
from tests.conftest import Psw

CORPUS = ["I will report it openly.", "I would keep quiet.", "What should the manager do?"]


@pytest.fixture(scope="module")
def tiny():
    return tiny_model_and_tokenizer(CORPUS, num_layers=2)


def test_a_vector_of_the_wrong_size_is_one_clear_error(tiny):
    from extract import ActivationSteerer
    from extract.steering import VectorSizeError
    from warehouse.errors import UserError

    model, tokenizer = tiny
    hidden = model.config.hidden_size
    with pytest.raises(ValueError, match=f"steering vector has {hidden + 3} values but the model's layers are {hidden} wide"):
        ActivationSteerer(model, torch.ones(hidden + 3), coeff=1.0, layer=1)
    assert issubclass(VectorSizeError, UserError)
    ids = tokenizer("What should the manager do?", return_tensors="pt")
    with ActivationSteerer(model, torch.ones(hidden), coeff=1.0, layer=1):   # the right size still steers
        model(**ids)


@pytest.fixture
def custom_code_model(tiny, tmp_path):
    """The tiny model saved with an auto_map whose code, if ever run, leaves a marker file."""
    model, tokenizer = tiny
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    marker = tmp_path / "code-ran"
    (folder / "configuration_evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nfrom transformers import Qwen2Config\n"
        "class EvilConfig(Qwen2Config):\n    model_type = 'evil'\n")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "configuration_evil.EvilConfig"}
    config["model_type"] = "evil"
    (folder / "config.json").write_text(json.dumps(config))
    return folder, marker


def test_load_model_refuses_remote_code_without_asking(custom_code_model, monkeypatch):
    from extract.model_io import load_model
    from warehouse.errors import UserError

    folder, marker = custom_code_model
    monkeypatch.setattr("builtins.input", lambda *a: pytest.fail("prompted on the terminal"))
    with pytest.raises(UserError, match="asks to run the model's own code.*--trust-remote-code"):
        load_model(str(folder), device="cpu")
    assert not marker.exists()


def test_ingest_vectors_refuses_remote_code_in_one_line(custom_code_model, tmp_path, capsys, monkeypatch):
    from safetensors.torch import save_file

    folder, marker = custom_code_model
    hidden = json.loads((folder / "config.json").read_text())["hidden_size"]
    vectors = tmp_path / "calm.safetensors"
    save_file({"layer.1": torch.ones(hidden)}, str(vectors))
    monkeypatch.setattr("builtins.input", lambda *a: pytest.fail("prompted on the terminal"))
    db = tmp_path / "w.duckdb"
    rc, _, err = Psw(db, capsys)("ingest", vectors, "--model", folder)
    one_line_error(rc, err, f"--model {folder}", "auto_map", "--trust-remote-code")
    assert not marker.exists()
