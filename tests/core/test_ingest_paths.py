"""Both line readers (DuckDB's for plain files, Python's otherwise) load the same records."""

from __future__ import annotations

import json

import duckdb

from ingest import loader


def records(db):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("select line_no, persona_pair_id from raw.persona_pairs order by line_no").fetchall()


def test_blank_lines_keep_their_line_numbers(psw, tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"id": "a", "pos": "p", "neg": "n"}) + "\n\n  \n"
                    + json.dumps({"id": "b", "pos": "p", "neg": "n"}) + "\n")
    assert psw("ingest", path)[0] == 0
    assert records(psw.db) == [(1, "a"), (4, "b")]


def test_a_line_longer_than_the_fast_readers_buffer_still_loads(psw, tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "MAX_FAST_LINE_BYTES", 1 << 10)
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"id": "a", "pos": "p", "neg": "n"}) + "\n"
                    + json.dumps({"id": "long", "pos": "p", "neg": "n", "positive_behavior": "x" * 5000}) + "\n")
    assert psw("ingest", path)[0] == 0
    assert records(psw.db) == [(1, "a"), (2, "long")]
