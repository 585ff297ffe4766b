"""Both line readers (DuckDB's for plain files, Python's otherwise) load the same records."""

from __future__ import annotations

import json

import duckdb

from ingest import loader
from ingest.loader import ingest_file
from psw.cli import main
from warehouse.db import connect


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


def test_crlf_lines_and_a_stray_carriage_return(psw, tmp_path):
    crlf = tmp_path / "crlf_pairs.jsonl"
    crlf.write_bytes(b'{"id": "a", "pos": "p", "neg": "n"}\r\n\r\n{"id": "b", "pos": "p", "neg": "n"}\r\n')
    assert psw("ingest", crlf)[0] == 0
    assert records(psw.db) == [(1, "a"), (3, "b")]
    # a bare \r inside a line makes DuckDB's reader refuse the file: the Python reader
    # takes over and the numbering is the same (lines end at \n only)
    stray = tmp_path / "stray_pairs.jsonl"
    stray.write_bytes(b'{"id": "c", "pos": "p", "neg": "n"}\n\n{"id": "d", "pos": "p\rq", "neg": "n"}\n')
    rc, _, err = psw("ingest", stray)
    assert rc == 2 and f"{stray}:3: invalid JSON" in err


def test_fast_and_slow_readers_number_lines_alike(psw, tmp_path, monkeypatch):
    lines = [json.dumps({"id": f"p{i}", "pos": "p", "neg": "n"}) if i % 7 else "" for i in range(1, 200)]
    path = tmp_path / "many_pairs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert psw("ingest", path)[0] == 0
    fast = records(psw.db)
    monkeypatch.setattr(loader, "MAX_FAST_LINE_BYTES", 8)  # every line too long: the Python reader
    other = tmp_path / "other.duckdb"
    assert main(["--db", str(other), "ingest", str(path)]) == 0
    assert records(other) == fast == [(i, f"p{i}") for i in range(1, 200) if i % 7]


def test_one_command_mixes_both_readers(psw, tmp_path):
    good = tmp_path / "a_pairs.jsonl"
    good.write_text(json.dumps({"id": "a", "pos": "p", "neg": "n"}) + "\n")
    crlf = tmp_path / "b_pairs.jsonl"  # a bare \r between JSON tokens (valid JSON): the slow reader
    crlf.write_bytes(b'{"id": "b", "pos": "p",\r "neg": "n"}\n')
    later = tmp_path / "c_pairs.jsonl"
    later.write_text(json.dumps({"id": "c", "pos": "p", "neg": "n"}) + "\n")
    with connect(psw.db) as con:
        for path in (good, crlf, later):
            assert not ingest_file(con, path).rejects
    assert [r[1] for r in records(psw.db)] == ["a", "b", "c"]


def test_a_small_files_check_planned_without_common_subexpressions_stores_the_same_rows(tmp_path, monkeypatch):
    """ingest.loader.SMALL_FILE_BYTES: a small file's checks are planned without DuckDB's
    common-subexpression pass (faster to plan); the rows are a large file's, and the connection's
    optimizers are as they were afterwards, also when DuckDB's reader refuses the file."""
    from tests.conftest import REFERENCE

    examples = REFERENCE / "v2_pilot_seed23_examples.jsonl"
    bad = tmp_path / "bad_utf8_pairs.jsonl"
    bad.write_bytes(b'{"id": "a", "pos": "p", "neg": "n"}\n{"id": "b", "pos": "\xff", "neg": "n"}\n')
    stored = {}
    for small in (True, False):
        monkeypatch.setattr(loader, "SMALL_FILE_BYTES", 1 << 30 if small else 0)
        with connect(tmp_path / f"small-{small}.duckdb") as con:
            assert not ingest_file(con, examples).rejects
            assert con.execute("select current_setting('disabled_optimizers')").fetchone()[0] == ""
            assert ingest_file(con, bad).rejects   # DuckDB's reader refuses it; Python's names the line
            assert con.execute("select current_setting('disabled_optimizers')").fetchone()[0] == ""
            stored[small] = con.execute("select record_id, pair_id, line_no, record::varchar, fields::varchar, "
                                        "extra::varchar from raw.exported_pairs order by line_no").fetchall()
    assert len(stored[True]) == 64 and stored[True] == stored[False]
