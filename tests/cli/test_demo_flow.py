"""The README's flow as a new user runs it: `make demo` into its own file, then the pilot block,
exactly as written, into the default warehouse; and every `psw` line in the README parses."""

from __future__ import annotations

import re
import shlex
import subprocess

import duckdb
import pytest

from psw.cli import main, make_parser
from tests.conftest import ROOT

BIN = "/fake/bin"


def readme_bash_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    return [line for block in blocks for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def psw_argv(line: str, env: dict[str, str]) -> list[str] | None:
    """The arguments of a `psw` line (env assignments, comments and [optional] parts dropped)."""
    words = shlex.split(line, comments=True)
    while words and re.match(r"^[A-Z_]+=", words[0]):
        words.pop(0)
    if not words or words[0] != "psw":
        return None
    argv, depth = [], 0
    for word in words[1:]:
        depth += word.count("[")
        if depth == 0:
            argv.append(re.sub(r"\$(\w+)", lambda m: env[m.group(1)], word))
        depth -= word.count("]")
    return argv


def query(db, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_every_psw_line_in_the_readme_parses():
    lines = [argv for line in readme_bash_lines() if (argv := psw_argv(line, {"R": "ref"})) is not None]
    assert len(lines) >= 15
    for argv in lines:
        try:
            args, extra = make_parser().parse_known_args(argv)
        except SystemExit:
            pytest.fail(f"the README's `psw {' '.join(argv)}` does not parse")
        assert not extra or hasattr(args, "passthrough"), argv


def demo_commands(**overrides: str) -> list[list[str]]:
    """`make demo`'s recipe (setup left out) as psw argument lists."""
    assignments = [f"{name}={value}" for name, value in {"BIN": BIN, **overrides}.items()]
    recipe = subprocess.run(["make", "-n", "-o", "setup", "demo", *assignments], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.replace("\\\n", "")
    return [shlex.split(line)[1:] for line in recipe.splitlines() if line.startswith(f"{BIN}/psw ")]


def test_make_demo_writes_its_own_warehouse_not_the_default():
    commands = demo_commands()
    assert len(commands) == 3 and all(c[:2] == ["--db", "data/demo.duckdb"] for c in commands)
    assert "warehouse.duckdb" not in subprocess.run(["make", "-n", "-o", "setup", "demo", f"BIN={BIN}"], cwd=ROOT,
                                                    capture_output=True, text=True).stdout


def test_the_demo_and_the_pilot_block_as_written_stay_apart(tmp_path, monkeypatch, capsys):
    demo_db, default_db = tmp_path / "demo.duckdb", tmp_path / "warehouse.duckdb"
    monkeypatch.chdir(ROOT)
    for argv in demo_commands(DEMO_DB=str(demo_db)):
        assert main(argv) == 0, capsys.readouterr().err
    demo_top = capsys.readouterr().out
    assert query(demo_db, "select distinct measurement_id from template_pair_scores") == [("demo_run_artifact",)]

    # the README's pilot block, word for word; PSW_DB stands in for the default data/warehouse.duckdb
    monkeypatch.setenv("PSW_DB", str(default_db))
    text = (ROOT / "README.md").read_text()
    block = re.search(r"Load and score the published pilot.*?```bash\n(.*?)```", text, re.S).group(1)
    lines = block.replace("\\\n", " ").splitlines()
    # the R= line as a shell runs it (it asks git for the clone's top folder)
    value = subprocess.run(["bash", "-c", f'{lines[0]}\necho "$R"'], cwd=ROOT, capture_output=True, text=True)
    env = {"R": value.stdout.strip()}
    for line in lines[1:]:
        assert main(psw_argv(line, env)) == 0, capsys.readouterr().err
    pilot_top = capsys.readouterr().out
    assert query(default_db, "select distinct measurement_id from template_pair_scores") == [("v2_pilot_seed23",)]
    lines = pilot_top.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("─"))
    assert "36.6" in lines[rule + 1]  # the first row under the header is the pilot's best cell
    demo_scores = {s for (s,) in query(demo_db, "select score from template_pair_scores where score > 40")}
    assert demo_scores and not any(str(s) in pilot_top for s in demo_scores)
    assert str(max(demo_scores)) in demo_top
