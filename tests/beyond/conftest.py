"""Warehouses for the selection, screening and layer-choice tests: the reference pilot, plus one
planted cell whose pairs all say the same two things, except one pair whose completions are swapped
while its judge fields still call it positive: the contradiction the screening must flag."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from extract.testing import tiny_model_and_tokenizer
from psw.cli import main
from tests.conftest import PILOT_FILES, PILOT_META, REFERENCE

PLANTED_TEMPLATE = "You are a {persona} person thinking through the situation."
PLANTED_PAIR = "wellbeing_authority"
OPEN = "I will report it openly and protect the students. " * 3
QUIET = "I would follow the rules and keep quiet. " * 3
CORPUS = [OPEN, QUIET, "What should the manager do about the missing funds?"]


def query(db: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def run_psw(db: Path, *args) -> None:
    assert main(["--db", str(db), *map(str, args)]) == 0, args


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A random-weight 3-layer Qwen2 saved to disk, so `--model <path>` loads it."""
    path = tmp_path_factory.mktemp("tiny-model")
    model, tokenizer = tiny_model_and_tokenizer(CORPUS, num_layers=3)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def planted_examples(path: Path) -> Path:
    """The pilot's four pairs of one cell with uniform texts; row 1 has its completions swapped."""
    rows = [json.loads(line) for line in (REFERENCE / "v2_pilot_seed23_examples.jsonl").read_text().splitlines()]
    cell = [r for r in rows if r["template"] == PLANTED_TEMPLATE and r["persona_pair"] == PLANTED_PAIR]
    assert len(cell) == 4 and all(r["axis_delta"] > 0 and r["error"] is None for r in cell)
    for r in cell:
        r["pos_response"], r["neg_response"] = (QUIET, OPEN) if r["row"] == 1 else (OPEN, QUIET)
    path.write_text("".join(json.dumps(r) + "\n" for r in cell))
    return path


@pytest.fixture(scope="session")
def screened_db(tmp_path_factory, tiny_model_dir) -> Path:
    """Pilot + planted cell, built, vectors extracted at layers 0-2 with the tiny model, rebuilt."""
    work = tmp_path_factory.mktemp("screened")
    db = work / "warehouse.duckdb"
    run_psw(db, "ingest", *PILOT_FILES, *PILOT_META)
    run_psw(db, "ingest", planted_examples(work / "planted_examples.jsonl"), "--measurement", "planted")
    run_psw(db, "build")
    run_psw(db, "extract", "vectors", "--model", tiny_model_dir, "--layers", "0,1,2")
    run_psw(db, "build")
    return db


@pytest.fixture
def screened_copy(screened_db, tmp_path) -> Path:
    target = tmp_path / "warehouse.duckdb"
    shutil.copy(screened_db, target)
    vectors = screened_db.parent / "vectors"
    if vectors.is_dir():
        shutil.copytree(vectors, tmp_path / "vectors")
    return target


@pytest.fixture(scope="session")
def planted_cell(screened_db) -> str:
    return query(screened_db, "select distinct cell_id from main.examples where measurement_id = 'planted'")[0][0]


@pytest.fixture(scope="session")
def planted_pair(screened_db) -> str:
    return query(screened_db, "select pair_id from main.examples where measurement_id = 'planted' "
                              "and starts_with(pos_response, 'I would follow')")[0][0]


@pytest.fixture(scope="session")
def top_cell(pilot_db) -> str:
    return query(pilot_db, "select cell_id from main.template_pair_scores order by score desc limit 1")[0][0]
