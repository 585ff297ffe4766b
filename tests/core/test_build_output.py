"""`psw build` prints a progress line and a summary, not dbt's log; on failure, one line per failure."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import duckdb

from psw.cli import main
from warehouse.build_output import BuildOutput


def _build(db: Path, capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["--db", str(db), "build", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_a_passing_build_prints_one_summary_line(pilot_copy, capfd):
    rc, out, err = _build(pilot_copy, capfd, "--force", "--select", "template_scores")  # dbt's fds too
    assert rc == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    # the model checked its own guarantees as it was built: no test node ran
    summary = re.fullmatch(r"built (\d+) models?; guarantees checked; [\d.]+ s", lines[0])
    assert summary, lines[0]
    assert summary[1] == "1"
    assert "START" not in out + err  # nothing of dbt's own log


def test_a_failing_model_is_named_with_its_first_error_line_and_compiled_sql(pilot_copy, capsys):
    rc, out, err = _build(pilot_copy, capsys, "--select", "int_cell_scores", "--vars", "{bootstrap_replicates: abc}")
    assert rc == 2
    line = next(line for line in err.splitlines() if line.startswith("  model int_cell_scores: "))
    assert 'Binder Error: Referenced column "abc" not found' in line
    compiled = Path(re.search(r"\(compiled SQL: (.+)\)$", line)[1])
    assert compiled.name == "int_cell_scores.sql" and "range(abc)" in compiled.read_text()
    assert "Traceback" not in err and len(err.splitlines()) == 3  # summary, the failure, psw's one line


def test_a_failing_test_is_named_with_its_result_and_compiled_sql(pilot_copy, capsys):
    with duckdb.connect(str(pilot_copy)) as con:
        con.execute("update template_scores set mean_score = 500")
    rc, out, err = _build(pilot_copy, capsys, "--resource-type", "test", "--select", "template_scores")
    assert rc == 2
    assert re.search(r"^dbt build failed: built 0 models; \d+ of \d+ tests passed; 1 failed", err, re.M), err
    line = next(line for line in err.splitlines() if line.startswith("  test template_scores_guarantees"))
    assert "Got " in line and "configured to fail" in line
    assert Path(re.search(r"\(compiled SQL: (.+)\)$", line)[1]).is_file()


def test_verbose_streams_dbts_own_log(pilot_copy, capfd):
    capfd.readouterr()
    rc = main(["--db", str(pilot_copy), "build", "--verbose", "--force", "--select", "stg_raw__templates"])   # a view (psw reads it); most staging is ephemeral
    out, _ = capfd.readouterr()
    assert rc == 0
    assert "START sql view model" in out and "Completed successfully" in out


def _event(name: str, level: str = "info", **data) -> str:
    return json.dumps({"info": {"name": name, "level": level, "msg": data.pop("msg", "")}, "data": data})


def test_the_progress_line_counts_nodes_on_a_terminal():
    terminal, out = io.StringIO(), io.StringIO()
    printer = BuildOutput(out=out, err=io.StringIO(), progress=terminal)
    printer.json_line(_event("ConcurrencyLine", node_count=3))
    printer.json_line(_event("LogModelResult", status="success", node_info={"resource_type": "model"}, total=3))
    printer.json_line("not json: dbt said something else\n")
    printer.json_line(_event("LogTestResult", status="pass", node_info={"resource_type": "test"}, total=3))
    printer.json_line(_event("LogTestResult", status="pass", node_info={"resource_type": "test"}, total=3))
    printer.finish(ok=True)
    assert "\rdbt build: 1/3 nodes done" in terminal.getvalue()
    assert "\rdbt build: 3/3 nodes done" in terminal.getvalue()
    assert re.fullmatch(r"built 1 model; 2 of 2 tests passed; [\d.]+ s\n", out.getvalue())


def test_an_error_before_any_node_ran_is_shown():
    err = io.StringIO()
    printer = BuildOutput(out=io.StringIO(), err=err)
    printer.json_line(_event("MainEncounteredError", "error", msg="Encountered an error:\nParsing Error: bad yaml"))
    printer.finish(ok=False)
    assert err.getvalue().splitlines()[1] == "  Parsing Error: bad yaml"
