"""Bad input: one clear line naming file:line, a non-zero exit, and the warehouse unchanged."""

from __future__ import annotations

import json

import duckdb
import pytest

from tests.conftest import REFERENCE

DATA_TABLES = ["persona_pairs", "templates", "scenarios", "exported_pairs", "pairs", "judgments", "loads",
               "measurements"]
GOOD_EXAMPLE = json.loads((REFERENCE / "v2_pilot_seed23_examples.jsonl").open().readline())


def snapshot(db):
    if not db.exists():
        return None
    with duckdb.connect(str(db), read_only=True) as con:
        present = {r[0] for r in con.execute("select table_name from information_schema.tables "
                                             "where table_schema = 'raw'").fetchall()}
        return {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in DATA_TABLES if t in present}


def rejects(db):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("select line_no, reason from raw.rejects order by line_no").fetchall()


@pytest.fixture
def seeded(psw, tmp_path):
    """A warehouse that already holds some candidates, so 'unchanged' means something."""
    rc, _, _ = psw("ingest", REFERENCE / "persona_pairs_v2_candidates.jsonl")
    assert rc == 0
    return psw


def examples_file(tmp_path, lines):
    path = tmp_path / "run_examples.jsonl"
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def refused(psw, path, *extra):
    before = snapshot(psw.db)
    rc, out, err = psw("ingest", path, *extra)
    assert rc == 2, (out, err)
    assert snapshot(psw.db) == before, "a refused file must leave the data tables unchanged"
    return err


def test_truncated_json_line(seeded, tmp_path):
    good = json.dumps(GOOD_EXAMPLE)
    path = examples_file(tmp_path, [good, good.replace('"row": 4', '"row": 5'), good[: len(good) // 2]])
    err = refused(seeded, path)
    assert f"{path}:3: invalid JSON" in err
    assert "1 malformed of 3 records; nothing loaded" in err
    assert rejects(seeded.db) == [(3, rejects(seeded.db)[0][1])]


def test_missing_required_field(seeded, tmp_path):
    bad = {k: v for k, v in GOOD_EXAMPLE.items() if k != "pos_response"}
    err = refused(seeded, examples_file(tmp_path, [GOOD_EXAMPLE, bad]))
    assert "run_examples.jsonl:2: missing required field pos_response" in err


@pytest.mark.parametrize("value, message", [
    (9, "field off_axis_problem: expected a number in 1..7, got 9"),
    ("high", "field off_axis_problem: expected a number in 1..7, got high"),
    (True, "field off_axis_problem: expected a number in 1..7, got true"),
])
def test_likert_out_of_range_or_wrong_type(seeded, tmp_path, value, message):
    err = refused(seeded, examples_file(tmp_path, [{**GOOD_EXAMPLE, "off_axis_problem": value}]))
    assert f"run_examples.jsonl:1: {message}" in err


def test_style_delta_out_of_range(seeded, tmp_path):
    err = refused(seeded, examples_file(tmp_path, [{**GOOD_EXAMPLE, "style_delta_warmth_pos_minus_neg": 12}]))
    assert "run_examples.jsonl:1: field style_delta_warmth_pos_minus_neg: expected a number in -6..6, got 12" in err


def test_boolean_of_wrong_type(seeded, tmp_path):
    err = refused(seeded, examples_file(tmp_path, [{**GOOD_EXAMPLE, "persona_echo": "no"}]))
    assert "run_examples.jsonl:1: field persona_echo: expected true or false, got no" in err


def test_empty_file(seeded, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    err = refused(seeded, path)
    assert f"{path}:1: empty file" in err


def test_non_utf8_bytes(seeded, tmp_path):
    path = tmp_path / "latin1_pairs.jsonl"
    good = json.dumps({"id": "a_b", "pos": "a", "neg": "b"}).encode()
    path.write_bytes(good + b"\n" + json.dumps({"id": "caf", "pos": "x", "neg": "y"}).encode()[:-2] + b"\xe9\"}\n")
    err = refused(seeded, path)
    assert f"{path}:2: not valid UTF-8 (byte 0xe9" in err


def test_template_without_persona_slot(seeded, tmp_path):
    path = tmp_path / "templates.txt"
    path.write_text("You are a {persona} person.\nAnswer carefully.\n")
    err = refused(seeded, path, "--kind", "templates")
    assert f"{path}:2: template has no {{persona}} slot" in err


def test_file_of_no_known_kind(seeded, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\nnothing to see\n")
    err = refused(seeded, path)
    assert f"{path}:1: not a known kind of input" in err


def test_published_stats_file_is_not_mistaken_for_examples(seeded):
    rc, out, _ = seeded("ingest", REFERENCE / "v2_pilot_seed23_template_pair_stats.jsonl")
    assert rc == 0 and "16 stats records" in out  # published numbers to compare, not pairs
    with duckdb.connect(str(seeded.db), read_only=True) as con:
        assert con.execute("select count(*) from raw.exported_pairs").fetchone() == (0,)


def test_missing_file(seeded, tmp_path):
    err = refused(seeded, tmp_path / "nope.jsonl")
    assert "nope.jsonl: no such file" in err


def test_scenario_without_text(seeded, tmp_path):
    path = tmp_path / "scenarios.jsonl"
    path.write_text(json.dumps({"id": "s1", "prompt": "What now?"}) + "\n" + json.dumps({"id": "s2"}) + "\n")
    err = refused(seeded, path, "--kind", "scenarios")
    assert f"{path}:2: missing required field prompt (or question, or text)" in err


def test_loading_the_same_file_twice_adds_nothing(seeded):
    before = snapshot(seeded.db)
    rc, out, _ = seeded("ingest", REFERENCE / "persona_pairs_v2_candidates.jsonl")
    assert rc == 0 and "already loaded" in out and "nothing added" in out
    assert snapshot(seeded.db) == before


def test_same_records_in_a_new_file_are_held_by_both_loads_and_count_once(seeded, tmp_path):
    copy = tmp_path / "pairs_copy.jsonl"
    copy.write_text((REFERENCE / "persona_pairs_v2_candidates.jsonl").read_text())
    copy.write_text(copy.read_text() + json.dumps({"id": "new_pair", "pos": "p", "neg": "n"}) + "\n")
    before = snapshot(seeded.db)
    rc, out, _ = seeded("ingest", copy)
    assert rc == 0 and "loaded 17 pairs records (1 new)" in out
    # each load owns its rows (forgetting either one keeps the other's); the records are 17
    assert snapshot(seeded.db)["persona_pairs"] == 2 * before["persona_pairs"] + 1
    with duckdb.connect(str(seeded.db), read_only=True) as con:
        assert con.execute("select count(distinct record_id) from raw.persona_pairs").fetchone()[0] == 17


def test_unknown_extra_fields_load(psw, tmp_path):
    path = examples_file(tmp_path, [{**GOOD_EXAMPLE, "my_new_metric": {"nested": [1, 2]}}])
    rc, out, err = psw("ingest", path)
    assert rc == 0, err
    with duckdb.connect(str(psw.db), read_only=True) as con:
        assert con.execute("select record -> '$.my_new_metric.nested' from raw.exported_pairs").fetchone()[0] == "[1,2]"


@pytest.mark.parametrize("text", ["", "   ", " \n\t "])
def test_blank_completion(seeded, tmp_path, text):
    path = examples_file(tmp_path, [GOOD_EXAMPLE, {**GOOD_EXAMPLE, "row": 5, "neg_response": text}])
    err = refused(seeded, path)
    assert f"{path}:2: field neg_response: expected a non-empty string" in err
