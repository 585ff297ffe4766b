"""Issue 23, item 11: inputs that used to end in a traceback are one line now: deeply nested JSON
in ingest and lint, `psw lint ... | head`, artifact metadata of the wrong type, bad arguments."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from security_helpers import ROOT, one_line_error, rows
from tests.conftest import Psw

DEEP = "[" * 50_000 + "]" * 50_000


@pytest.mark.parametrize("kind", ["pairs", "scenarios", "examples"])
def test_deep_json_lines_are_a_reject_line(tmp_path, capsys, kind):
    path = tmp_path / "deep.jsonl"
    path.write_text(DEEP + "\n")
    db = tmp_path / "w.duckdb"
    rc, _, err = Psw(db, capsys)("ingest", path, "--kind", kind)
    assert rc == 2 and "Traceback" not in err, err
    assert f"{path}:1: invalid JSON: nested too deeply" in err
    assert rows(db, "select count(*) from raw.loads")[0][0] == 0


def test_a_deep_artifact_is_a_reject_line(tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text('{"results": [' + DEEP + "]}")
    rc, _, err = Psw(tmp_path / "w.duckdb", capsys)("ingest", path, "--kind", "artifact")
    assert rc == 2 and "nested too deeply" in err and "Traceback" not in err, err


def test_lint_names_deep_json_by_line(tmp_path, capsys):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"id": "p1", "pos": "brave", "neg": "timid"}\n' + DEEP + "\n")
    rc, out, err = Psw(tmp_path / "w.duckdb", capsys)("lint", path, "--kind", "pairs")
    assert rc == 1 and f"{path}:2: record: not valid JSON (nested too deeply)" in out and "Traceback" not in err


def test_lint_into_a_closed_pipe_ends_quietly(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"id": f"p{i}", "pos": "kind", "neg": "not kind"}) + "\n" for i in range(20000)))
    lint = subprocess.Popen([sys.executable, "-m", "psw.cli", "lint", str(path)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    first = lint.stdout.readline()
    lint.stdout.close()                          # what `| head -1` does
    err = lint.stderr.read().decode()
    assert lint.wait(60) != 0 and first.startswith(str(path).encode())
    assert "Traceback" not in err and "BrokenPipe" not in err, err


@pytest.mark.parametrize("field, value, needle", [
    ("seed", "abc", "seed: expected an integer"),
    ("seed", [1, 2], "seed: expected an integer"),
    ("seed", 1e30, "seed: expected an integer"),
    ("temperature", "hot", "temperature: expected a number"),
    ("generator_model", {"a": 1}, "generator_model: expected a non-empty string"),
    ("judge_models", [1, 2], "judge_models: expected a list of non-empty strings"),
])
def test_artifact_metadata_of_the_wrong_type_is_a_reject(tmp_path, capsys, field, value, needle):
    doc = json.loads((ROOT / "data" / "demo" / "demo_run_artifact.json").read_text())
    doc[field] = value
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    db = tmp_path / "w.duckdb"
    rc, _, err = Psw(db, capsys)("ingest", path)
    assert rc == 2 and needle in err and "Traceback" not in err and "Conversion" not in err, err
    assert rows(db, "select count(*) from raw.pairs")[0][0] == 0


@pytest.mark.parametrize("argv, needle", [
    (["sql"], "psw sql: the following arguments are required: query"),
    (["sql", "select 1", "--timeout", "soon"], "argument --timeout: invalid float value"),
    (["nope"], "invalid choice: 'nope'"),
    (["lint", "x.jsonl", "--kind", "poems"], "argument --kind: invalid choice"),
])
def test_bad_arguments_are_one_line(tmp_path, capsys, argv, needle):
    with pytest.raises(SystemExit) as exit_:
        Psw(tmp_path / "w.duckdb", capsys)(*argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1 and needle in err, err


def test_a_file_name_with_a_newline_and_an_escape_stays_one_line(tmp_path, capsys):
    path = tmp_path / "new\nline\x1b]0;title\x07.jsonl"
    path.write_bytes(b"\xff\xfe not json\n")
    rc, _, err = Psw(tmp_path / "w.duckdb", capsys)("lint", path)
    one_line_error(rc, err, "new\\x0aline\\x1b]0;title\\x07.jsonl")
