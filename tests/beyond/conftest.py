"""Warehouses for the selection, screening and layer-choice tests: the reference pilot, plus one
planted cell whose pairs all say the same two things, except one pair whose completions are swapped
while its judge fields still call it positive: the contradiction the screening must flag."""

from __future__ import annotations

from pathlib import Path

import pytest
from beyond_helpers import CORPUS, planted_examples, query, run_psw

from extract.testing import tiny_model_and_tokenizer
from tests.conftest import PILOT_FILES, PILOT_META


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A random-weight 3-layer Qwen2 saved to disk, so `--model <path>` loads it."""
    path = tmp_path_factory.mktemp("tiny-model")
    model, tokenizer = tiny_model_and_tokenizer(CORPUS, num_layers=3)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
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
