"""Issue 23: every subcommand, run with generated bad arguments and hostile files, exits non-zero
with one error line on stderr (ingest also lists each refused record as `file:line: reason`
before it), never prints a traceback, and leaves the warehouse's raw tables as they were.

Runs in-process through psw.cli.main (a subprocess each would cost a second of imports per case);
bounded: a fixed seed, a few hundred cases, no network (HF_HUB_OFFLINE), nothing that serves."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from psw.cli import _subcommands, main, make_parser

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"
SEED = 23
# commands that would serve, build or call out when their arguments happen to be good: they only
# ever get arguments argparse refuses
NEVER_VALID = {"dashboard", "docs", "build", "collect", "runs", "extract", "extract vectors", "extract steer",
               "extract judge", "extract project"}
BAD_NUMBERS = ["abc", "", "1e999x", "--", "0x", "½", "\x00"]


def hostile_files(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    files = {
        "empty": folder / "empty.jsonl",
        "binary": folder / "binary.jsonl",
        "huge_line": folder / "huge.jsonl",
        "deep": folder / "deep.jsonl",
        "deep_object": folder / "deep_object.jsonl",
        "wrong_kind": folder / "pairs.parquet",
        "array": folder / "array.json",
        "nan": folder / "nan.jsonl",
        "bad_utf8": folder / "latin1.txt",
        "artifact_bad_meta": folder / "bad_meta_run.json",
        "catalog_bomb": folder / "catalog.yaml",
        "dir": folder / "a_folder.jsonl",
        "dangling": folder / "dangling.jsonl",
        "symlink_dir": folder / "link_to_folder.jsonl",
        "newline_name": folder / "new\nline.jsonl",
        "dash_name": folder / "-x.jsonl",
        "shell_name": folder / "$(touch pwned);.jsonl",
        "missing": folder / "does-not-exist.jsonl",
    }
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(bytes(range(256)) * 64)
    files["huge_line"].write_text('{"id": "p1", "pos": "' + "x" * (1 << 20) + '"')   # 4 MB, unterminated
    files["deep"].write_text("[" * 5_000 + "]" * 5_000 + "\n")
    files["deep_object"].write_text('{"id": "p1", "pos": "kind", "neg": "cruel", "x": ' + "[" * 5_000
                                    + "]" * 5_000 + "}\n")
    pq.write_table(pa.table({"a": [1, 2]}), files["wrong_kind"])
    files["array"].write_text('[{"id": "p1", "pos": "a", "neg": "b"}]')
    files["nan"].write_text('{"id": "p1", "pos": NaN, "neg": "b"}\n')
    files["bad_utf8"].write_bytes("You are a {persona} caf\xe9 owner.\n".encode("latin-1"))
    artifact = json.loads((DEMO / "demo_run_artifact.json").read_text())
    artifact["seed"] = "abc"
    files["artifact_bad_meta"].write_text(json.dumps(artifact))
    files["catalog_bomb"].write_text("- template_jinja: 'You are {{ persona }}.'\n  x: &a [1, 1, 1]\n  y: [*a, *a, *a]\n")
    files["dir"].mkdir()
    files["dangling"].symlink_to(folder / "nowhere")
    files["symlink_dir"].symlink_to(files["dir"])
    for name in ("newline_name", "dash_name", "shell_name"):
        files[name].write_bytes(b"\xff\xfe not json\n")
    return files


def raw_fingerprint(db: Path) -> str:
    """Every raw table's rows, but raw.rejects: a refused file's records are kept there by design
    (README: "kept in raw.rejects, and nothing from that file is loaded")."""
    digest = hashlib.sha256()
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute("select table_name from information_schema.tables where "
                                            "table_schema = 'raw' and table_name <> 'rejects' order by 1").fetchall()]
        for table in tables:
            rows = con.execute(f'select * from raw."{table}"').fetchall()
            digest.update(table.encode() + repr(sorted(map(repr, rows))).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("fuzz") / "w.duckdb"
    files = [DEMO / "persona_pairs.jsonl", DEMO / "templates.txt", DEMO / "scenarios.jsonl", DEMO / "demo_run_artifact.json"]
    assert main(["--db", str(db), "ingest", *map(str, files)]) == 0
    return db


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
    return rc, out.getvalue(), err.getvalue()


def hostile_cases(files: dict[str, Path], tmp: Path, rng: random.Random) -> list[list[str]]:
    cases = []
    for name, path in files.items():
        cases.append(["ingest", str(path)])
        if name != "empty":        # an empty file has nothing to lint: lint says 0 findings, rightly
            cases.append(["lint", str(path)])
    for name in ("binary", "dangling", "symlink_dir", "newline_name"):
        cases.append(["import-hf", str(files[name])])
    kinds = ["pairs", "templates", "scenarios", "examples", "artifact", "stats", "catalog", "trait", "vectors",
             "projections"]
    for name in ("empty", "binary", "deep", "wrong_kind", "nan", "bad_utf8", "catalog_bomb", "huge_line"):
        # every file as two kinds it is not (PyYAML takes seconds over 5,000 brackets: not as a catalog)
        for kind in rng.sample([k for k in kinds if not (name == "deep" and k == "catalog")], 2):
            cases.append(["ingest", str(files[name]), "--kind", kind])
    for name in ("deep", "binary", "bad_utf8"):
        cases.append(["lint", str(files[name]), "--kind", "pairs"])
    cases.append(["ingest", str(files["artifact_bad_meta"])])
    library = tmp / "library"
    (library / "data").mkdir(parents=True)
    (library / "data" / "persona_pairs.parquet").write_bytes(b"PAR1 not really PAR1")
    (library / "README.md").write_text("---\n- a list\n---\n")
    cases += [["import-hf", str(library)], ["import-hf", "nobody-here/no-such-dataset"], ["import-hf", "../../etc"]]
    cases += [["forget", "--load", "x' or 1=1 --"], ["forget", "--measurement", "\x1b]0;t\x07"],
              ["forget", "--load", ""], ["forget"]]
    cases += [["sql", q] for q in ("", "select * from read_text('/etc/passwd')", "select * from duckdb_settings()",
                                   "drop table raw.pairs", "select 1; select 2", "select \x1b[2J",
                                   "select * from raw.pairs where", "pragma database_list")]
    for out in (files["binary"], files["dir"] / "..", Path("/proc/self"), files["symlink_dir"], files["dangling"],
                files["binary"] / "under_a_file"):
        cases.append(["export-hf", "--out", str(out)])
        cases.append(["export-selection", "--out", str(out)])
    for out in (files["dir"], files["binary"] / "x", Path("/proc/self/x")):
        cases.append(["sql", "select 1", "--out", str(out)])
    return cases


def bad_argument_cases(rng: random.Random) -> list[list[str]]:
    """For every subcommand: each option that takes a typed value or a choice, given one it cannot
    take, plus an unknown option; commands that could serve or spend always get one of these."""
    cases = []
    for name, parser in _subcommands(make_parser()):
        words = name.split()
        if name != "build":   # build hands options it does not know to dbt (documented): dbt refuses them
            cases.append([*words, "--no-such-option", "1"])
        for action in parser._actions:
            if not action.option_strings or isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            flag = action.option_strings[-1]
            if action.choices:
                cases.append([*words, flag, "not-a-choice\n"])
            elif action.type in (int, float):
                cases.append([*words, flag, rng.choice(BAD_NUMBERS)])
            elif action.nargs not in (0, None) or action.type is None and action.nargs is None and \
                    not isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
                cases.append([*words, flag])                       # the value left out
    return cases


def test_every_subcommand_refuses_bad_input_in_one_line(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("PSW_LOCK_WAIT_S", "1")
    monkeypatch.chdir(tmp_path)
    rng = random.Random(SEED)
    files = hostile_files(tmp_path / "hostile")
    before = raw_fingerprint(warehouse)
    cases = hostile_cases(files, tmp_path, rng) + bad_argument_cases(rng)
    failures = []
    for argv in cases:
        started = time.monotonic()
        rc, out, err = run(["--db", str(warehouse), *argv])
        if os.environ.get("PSW_FUZZ_TIMES"):
            print(f"{time.monotonic() - started:6.2f}s {argv!r}"[:160])
        lines = err.rstrip("\n").split("\n")
        error_lines = [line for line in lines if line.startswith("error: ")]
        listed = all(line.startswith(("error: ", "warning: ", "... and ", str(tmp_path))) for line in lines)
        one_line = len(lines) == 1 or (argv[0] == "ingest" and len(error_lines) == 1 and listed)
        if rc == 0 or not one_line or "Traceback" in out + err or not err.strip():
            failures.append(f"{argv!r}: rc {rc}, stderr {err[-400:]!r}")
        if argv[0] in ("ingest", "forget", "import-hf") and raw_fingerprint(warehouse) != before:
            failures.append(f"{argv!r}: changed the raw tables")
            before = raw_fingerprint(warehouse)
    assert not (tmp_path / "pwned").exists()
    assert raw_fingerprint(warehouse) == before
    assert len(cases) > 150
    assert not failures, f"{len(failures)} of {len(cases)} cases:\n" + "\n".join(failures[:40])
