"""Tiny offline decoder models and a small warehouse of judged pairs."""

from __future__ import annotations

import duckdb
import pytest

from extract.testing import tiny_model_and_tokenizer

CORPUS = [
    "I will report it openly and protect the students.",
    "I would follow the rules and keep quiet.",
    "What should the manager do about the missing funds?",
    "You are a bold person. You are a cautious person.",
]


@pytest.fixture(scope="session")
def tiny():
    """(model, tokenizer): random-weight 3-layer Qwen2, byte-level BPE, ChatML template."""
    return tiny_model_and_tokenizer(CORPUS, num_layers=3)


def example_rows(n_cells: int = 2, n_pairs: int = 3) -> list[tuple]:
    rows = []
    for c in range(n_cells):
        for p in range(n_pairs):
            rows.append((
                f"pair-{c}-{p}", f"cell-{c}", "m1", "Pretend you're a {persona} person.", f"pp{c}",
                "bold", "cautious", f"s{p}", f"What should the manager do, case {p}?",
                "I will report it openly " * (p + 1), "I would keep quiet.", False, p % 2 == 0,
                0.1 * (p - 1),
            ))
    return rows


def make_examples_db(path, rows=None) -> str:
    """A DuckDB holding a `main.examples` table of the lead's shape (and scores)."""
    con = duckdb.connect(str(path))
    con.execute("""
        create table main.examples (
            pair_id varchar, cell_id varchar, measurement_id varchar, template_text varchar,
            persona_pair_id varchar, pos_persona varchar, neg_persona varchar, scenario_id varchar,
            scenario_text varchar, pos_response varchar, neg_response varchar, is_error boolean,
            is_strict_pass boolean, word_delta_frac double)
    """)
    con.executemany("insert into main.examples values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows or example_rows())
    con.execute("create table main.template_pair_scores as "
                "select distinct cell_id, 50.0 as score from main.examples")
    con.close()
    return str(path)


@pytest.fixture
def examples_db(tmp_path):
    return make_examples_db(tmp_path / "w.duckdb")


@pytest.fixture
def tiny_path(tiny, tmp_path_factory):
    """The tiny model and tokenizer saved to disk, so `--model <path>` loads them."""
    path = tmp_path_factory.mktemp("tiny-model")
    model, tokenizer = tiny
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)
