"""Shared pieces of the tests in this folder (a uniquely named module: every test folder has a conftest)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from psw.cli import main
from tests.conftest import REFERENCE

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


def planted_examples(path: Path) -> Path:
    """The pilot's four pairs of one cell with uniform texts; row 1 has its completions swapped."""
    rows = [json.loads(line) for line in (REFERENCE / "v2_pilot_seed23_examples.jsonl").read_text().splitlines()]
    cell = [r for r in rows if r["template"] == PLANTED_TEMPLATE and r["persona_pair"] == PLANTED_PAIR]
    assert len(cell) == 4 and all(r["axis_delta"] > 0 and r["error"] is None for r in cell)
    for r in cell:
        r["pos_response"], r["neg_response"] = (QUIET, OPEN) if r["row"] == 1 else (OPEN, QUIET)
    path.write_text("".join(json.dumps(r) + "\n" for r in cell))
    return path
