"""What a user sees from `psw extract`: progress in a log and on a terminal, an offline hub id
that fails at once, and which layers are stored when the asked one is not."""

from __future__ import annotations

import io
import shutil
import socket
import time

from extract.model_io import load_model
from extract.progress import Progress
from psw.cli import main


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(capsys, *args) -> tuple[int, str]:
    capsys.readouterr()
    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err


def test_vectors_and_project_log_progress_when_not_a_terminal(examples_db, tiny_path, monkeypatch, capsys):
    monkeypatch.setenv("PSW_PROGRESS_INTERVAL", "0")  # a line per batch, so the test sees several
    rc, err = run(capsys, "--db", examples_db, "extract", "vectors", "--model", tiny_path, "--layers", "1,2",
                  "--batch-size", "4")
    assert rc == 0, err
    assert f"loading {tiny_path}" in err
    lines = [line for line in err.splitlines() if line.startswith("extract vectors: ") and " seq" in line]
    assert lines[0].startswith("extract vectors: 0/12 seq (0%)") and "left" in lines[1]
    assert lines[-1].startswith("extract vectors: 12/12 seq (100%)") and lines[-1].endswith("(done)")
    rc, err = run(capsys, "--db", examples_db, "extract", "project", "--layer", "2")
    assert rc == 0, err
    assert "extract project: 12/12 response (100%)" in err  # 2 cells x 3 pairs x (pos, neg)


def test_a_terminal_gets_a_bar():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    with Progress("extract vectors", total=4, unit="seq", stream=stream) as progress:
        progress.note("loading m")
        progress.update(2)
        progress.add_total(4)
        progress.update(6)
    text = stream.getvalue()
    assert "extract vectors: loading m" in text and "8/8" in text and "seq/s" in text and "100%|" in text


def test_an_offline_hub_id_fails_at_once_with_what_to_do(examples_db, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # tests/hf sets it for the whole session
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    started = time.monotonic()
    rc, err = run(capsys, "--db", examples_db, "extract", "vectors", "--model", "nobody/not-cached")
    assert rc == 2 and time.monotonic() - started < 10
    assert "not in the Hugging Face cache" in err and "cannot be reached" in err and "hf download" in err
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rc, err = run(capsys, "--db", examples_db, "extract", "vectors", "--model", "nobody/not-cached")
    assert rc == 2 and "HF_HUB_OFFLINE is set" in err
    rc, err = run(capsys, "--db", examples_db, "extract", "vectors", "--model", "./no/such/folder")
    assert rc == 2 and "no such folder" in err


def test_a_cached_hub_id_loads_without_the_network(tiny_path, tmp_path, monkeypatch):
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--someone--tiny"
    shutil.copytree(tiny_path, repo / "snapshots" / "abc123")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    model, tokenizer, prov = load_model("someone/tiny")
    assert prov.model_id == "someone/tiny" and prov.n_layers == 3 and tokenizer.pad_token_id is not None


def test_steer_at_an_unstored_layer_names_the_stored_ones(examples_db, tiny_path, capsys):
    assert run(capsys, "--db", examples_db, "extract", "vectors", "--model", tiny_path, "--layers", "1,2")[0] == 0
    rc, err = run(capsys, "--db", examples_db, "extract", "steer", "--cell", "cell-0", "--layer", 0)
    assert rc == 2 and "stored layers: 1, 2" in err and "no stored vector" in err
