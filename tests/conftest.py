"""Shared fixtures: the published pilot (read from ../shared, never copied) and a psw runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from psw.cli import main

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "pilot-v2-seed23"
PILOT_FILES = [
    REFERENCE / "persona_pairs_v2_candidates.jsonl",
    REFERENCE / "scenarios_v2_candidates.jsonl",
    REFERENCE / "templates_v2_candidates.txt",
    REFERENCE / "v2_pilot_seed23_examples.jsonl",
]
PILOT_META = ["--generator-model", "qwen/qwen3.5-27b", "--judge-model", "google/gemini-3.1-flash-lite-preview",
              "--temperature", "0", "--seed", "23"]


class Psw:
    """Runs `psw` in-process against one warehouse and captures what it prints."""

    def __init__(self, db: Path, capsys):
        self.db, self.capsys = db, capsys

    def __call__(self, *args: object) -> tuple[int, str, str]:
        self.capsys.readouterr()
        rc = main(["--db", str(self.db), *map(str, args)])
        out, err = self.capsys.readouterr()
        return rc, out, err


@pytest.fixture(autouse=True)
def _forget_registered_keys():
    """A key a test's client registered (warehouse.secrets) is redacted for the rest of that process,
    as in one psw command; tests share a process, so each starts with none."""
    from warehouse import secrets
    yield
    with secrets._lock:
        secrets._registered.clear()
        secrets._patterns.clear()


@pytest.fixture
def psw(tmp_path, capsys) -> Psw:
    return Psw(tmp_path / "warehouse.duckdb", capsys)


@pytest.fixture(scope="session")
def pilot_db(tmp_path_factory) -> Path:
    """A warehouse built once from the reference pilot; copy it before writing to it."""
    if not REFERENCE.is_dir():
        pytest.fail(f"reference data missing at {REFERENCE}")
    db = tmp_path_factory.mktemp("pilot") / "warehouse.duckdb"
    assert main(["--db", str(db), "ingest", *map(str, PILOT_FILES), *PILOT_META]) == 0
    assert main(["--db", str(db), "build", "--unit-tests"]) == 0  # the dbt unit tests run here, once
    return db


@pytest.fixture
def pilot_copy(pilot_db, tmp_path) -> Path:
    target = tmp_path / "warehouse.duckdb"
    shutil.copy(pilot_db, target)
    return target
