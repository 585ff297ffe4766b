"""HF export/import tests never contact the Hub: datasets and huggingface_hub run offline."""

from __future__ import annotations

import os
import shutil
import tempfile

CACHE = tempfile.mkdtemp(prefix="psw-hf-datasets-cache-")
os.environ.setdefault("HF_DATASETS_CACHE", CACHE)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import pytest  # noqa: E402

from tests.conftest import Psw  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _drop_datasets_cache():
    yield
    shutil.rmtree(CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def pilot_export(pilot_db, tmp_path_factory):
    """One export of the reference pilot warehouse, shared by the read-only tests."""
    from psw.cli import main

    out = tmp_path_factory.mktemp("export") / "library"
    assert main(["--db", str(pilot_db), "export-hf", "--out", str(out)]) == 0
    return out


@pytest.fixture
def run_psw(capsys):
    """run_psw(db, *args) -> (rc, out, err) against any warehouse file."""
    def run(db, *args):
        return Psw(db, capsys)(*args)
    return run
