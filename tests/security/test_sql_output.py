"""Issue 15, point 4: `psw sql` keeps DuckDB's hints, fits the terminal, rounds floats for display,
never hides a column, and writes json/csv/parquet for scripts. All through psw.cli.main."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from security_helpers import one_line_error
from tests.conftest import Psw


@pytest.fixture
def sql(pilot_db, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    return Psw(pilot_db, capsys)


def test_errors_keep_the_hints(sql):
    rc, out, err = sql("sql", "select scor from template_pair_scores")
    one_line_error(rc, err, 'Referenced column "scor" not found', "Candidate bindings:", '"score"')
    rc, out, err = sql("sql", "select * from template_pair_score")
    one_line_error(rc, err, 'Did you mean "template_pair_scores"')


def test_floats_are_rounded_for_display_only(sql):
    query = "select 0.11462499999999999::double as x, 36.6::double as score, 1e-9::double as tiny"
    rc, out, err = sql("sql", query)
    assert rc == 0, err
    assert "0.1146" in out and "0.11462499999999999" not in out and "36.6" in out and "1.000e-09" in out
    rc, out, err = sql("sql", query, "--format", "json")
    assert json.loads(out) == [{"x": 0.11462499999999999, "score": 36.6, "tiny": 1e-9}]


def test_a_wide_table_fits_the_terminal_and_shows_every_column(sql):
    rc, out, err = sql("sql", "select template_text, persona_pair_id, positive_behavior, negative_behavior, score "
                              "from template_pair_scores order by score desc limit 3")
    assert rc == 0, err
    lines = out.splitlines()
    assert all(len(line) <= 100 for line in lines[:-1]), out
    for name in ("template_text", "persona_pair_id", "positive_behavior", "negative_behavior", "score"):
        assert name in lines[0]
    assert "…" in out and "3 rows, 5 columns" in lines[-1] and "cut to fit" in lines[-1]


def test_columns_that_cannot_sit_side_by_side_are_never_hidden(sql):
    rc, out, err = sql("sql", "select * from template_pair_scores order by score desc limit 2")
    assert rc == 0, err
    rc_json, full, _ = sql("sql", "select * from template_pair_scores limit 1", "--format", "json")
    columns = list(json.loads(full)[0])
    assert len(columns) > 15
    for name in columns:     # one block per row: every column named, none dropped
        assert any(line.startswith(name + " ") for line in out.splitlines()), name
    assert f"2 rows, {len(columns)} columns" in out
    assert all(len(line) <= 100 for line in out.splitlines()[:-1])


def test_more_rows_than_shown_says_so(sql):
    rc, out, err = sql("sql", "select range as i from range(100)", "--max-rows", "5")
    assert rc == 0 and "first 5 rows (more not shown" in out and len(out.splitlines()) == 2 + 5 + 1


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet"])
def test_formats_for_scripts(sql, tmp_path, fmt):
    query = "select persona_pair_id, score from template_pair_scores order by score desc, cell_id limit 2"
    out_file = tmp_path / f"result.{fmt}"
    rc, out, err = sql("sql", query, "--format", fmt, "--out", out_file)
    assert rc == 0 and out == "", err
    if fmt == "json":
        got = [tuple(r.values()) for r in json.loads(out_file.read_text())]
    elif fmt == "csv":
        lines = out_file.read_text().splitlines()
        assert lines[0] == "persona_pair_id,score"
        got = [(a, float(b)) for a, b in (line.split(",") for line in lines[1:])]
    else:
        got = [tuple(r.values()) for r in pq.read_table(out_file).to_pylist()]
    assert got[0] == ("wellbeing_authority", 36.6) and len(got) == 2
