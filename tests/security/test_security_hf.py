"""Attacks 5 and 6: export-hf replaced someone else's dataset; import-hf skipped ingest's checks
and read any size. Now export-hf replaces only what it wrote, and import-hf applies exactly
ingest's checks within row and byte caps."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from security_helpers import ROOT, one_line_error, psw_process, rows
from tests.conftest import Psw

EXAMPLES = "v2_pilot_seed23_examples"


# ---- export-hf: only its own folder ---------------------------------------------------------

def someone_elses_dataset(folder):
    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text("---\nconfigs:\n- config_name: default\n  data_files: data/*.parquet\n---\n"
                                      "# Their dataset\n")
    pq.write_table(pa.table({"text": ["theirs"]}), folder / "data" / "train.parquet")
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_export_refuses_a_dataset_it_did_not_write(pilot_db, tmp_path, capsys):
    theirs = tmp_path / "theirs"
    before = someone_elses_dataset(theirs)
    rc, out, err = Psw(pilot_db, capsys)("export-hf", "--out", theirs)
    one_line_error(rc, err, "not written by `psw export-hf`", ".psw-export")
    assert {p.relative_to(theirs): p.read_bytes() for p in theirs.rglob("*") if p.is_file()} == before


def test_export_replaces_its_own_export(pilot_db, tmp_path, capsys):
    psw = Psw(pilot_db, capsys)
    out = tmp_path / "mine"
    assert psw("export-hf", "--out", out)[0] == 0
    assert (out / ".psw-export").is_file()
    (out / "data" / "stale.parquet").write_bytes(b"old")
    assert psw("export-hf", "--out", out)[0] == 0
    assert not (out / "data" / "stale.parquet").exists() and (out / ".psw-export").is_file()


# ---- import-hf: ingest's checks --------------------------------------------------------------

def library_with(pilot_library, tmp_path, column: str, value, type_=None):
    """A copy of the pilot library whose first examples row has `column` = value. Its raw-record
    splits (source_*, read instead of the marts when present: their checks are
    tests/hf/test_hf_source_bad_input.py) are left out, as in an earlier release's export."""
    library = tmp_path / "library"
    shutil.copytree(pilot_library, library)
    for path in (library / "data").glob("source_*.parquet"):
        path.unlink()
    path = library / "data" / f"{EXAMPLES}.parquet"
    table = pq.read_table(path)
    values = table.column(column).to_pylist()
    if type_ is not None:   # a column of another type: every value as that type
        values = [None if v is None else str(v) for v in values]
    values[0] = value
    field = table.schema.field(column)
    new = pa.array(values, type=type_ or field.type)
    pq.write_table(table.set_column(table.column_names.index(column), field.with_type(new.type), new), path)
    return library


@pytest.mark.parametrize("column, value, type_, reason", [
    ("axis_delta", 999.0, None, "field axis_delta: expected a number in -8..8, got 999"),
    ("axis_delta", float("inf"), None, "field axis_delta: expected a number in -8..8"),
    ("axis_delta", float("nan"), None, "field axis_delta: expected a number in -8..8"),
    ("axis_delta", "abc", pa.string(), "field axis_delta: expected a number in -8..8, got abc"),
    ("off_axis_problem", -100.0, None, "field off_axis_problem: expected a number in 1..7, got -100"),
])
def test_import_applies_ingests_checks(pilot_library, tmp_path, capsys, column, value, type_, reason):
    library = library_with(pilot_library, tmp_path, column, value, type_)
    db = tmp_path / "w.duckdb"
    rc, out, err = Psw(db, capsys)("import-hf", library)
    one_line_error(rc, err, f"split {EXAMPLES}", "row 1: " + reason, "nothing imported")
    assert not db.exists()


def judged_library(tmp_path, capsys, likert):
    """A library of judged pairs (raw judge objects in `ratings`) whose first confound rating says `likert`."""
    original = tmp_path / "original.duckdb"
    assert Psw(original, capsys)("ingest", ROOT / "data" / "demo" / "demo_run_artifact.json")[0] == 0
    with duckdb.connect(str(original), read_only=True) as con:
        table = con.sql("""
            select p.measurement_id, p.template_text, p.persona_pair_id, p.scenario_id, p.scenario_text,
                   p.sample_idx, p.pos_persona, p.neg_persona, p.pos_response, p.neg_response,
                   p.error is not null as is_error, p.error, 'judged' as metrics_origin,
                   null::double as axis_delta, null::double as off_axis_problem, null::double as max_style_abs_delta,
                   null::boolean as is_usable_for_training, null::boolean as has_persona_echo,
                   null::boolean as has_refusal_or_ai_break, null::struct(key varchar, value double)[] as style_deltas,
                   (select list({'judge_model': j.judge_model, 'criterion': j.criterion, 'prompt_hash': j.prompt_hash,
                                 'pos_label': j.pos_label, 'output': j.output::varchar, 'raw_text': j.raw_text,
                                 'error': j.error} order by j.criterion)
                    from raw.judgments as j where j.pair_id = p.pair_id) as ratings,
            from raw.pairs as p where p.error is null order by p.pair_id""").to_arrow_table()
    records = table.to_pylist()
    confound = next(r for r in records[0]["ratings"] if r["criterion"] == "confound")
    confound["output"] = json.dumps({**json.loads(confound["output"]), "off_axis_problem_likert": likert})
    folder = tmp_path / "judged" / "data"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(records, schema=table.schema), folder / "demo_examples.parquet")
    return folder.parent


@pytest.mark.parametrize("likert", [-100, 99, 2.5])
def test_import_checks_raw_judge_objects_like_ingest(tmp_path, capsys, likert):
    library = judged_library(tmp_path, capsys, likert)
    db = tmp_path / "w.duckdb"
    rc, out, err = Psw(db, capsys)("import-hf", library)
    one_line_error(rc, err, "confound judgment: field off_axis_problem_likert: expected an integer in 1..7",
                   "nothing imported")
    assert not db.exists()


def test_a_valid_judged_library_still_imports(tmp_path, capsys):
    library = judged_library(tmp_path, capsys, 3)
    rc, out, err = Psw(tmp_path / "w.duckdb", capsys)("import-hf", library)
    assert rc == 0, err


# ---- import-hf: caps ------------------------------------------------------------------------

def bomb(folder, rows_: int = 20000, width: int = 50000):
    """A few KB of parquet that decodes to rows_ x width bytes (1 GB by default)."""
    (folder / "data").mkdir(parents=True)
    repeated = pa.DictionaryArray.from_arrays(pa.array([0] * rows_, pa.int32()), pa.array(["x" * width]))
    pq.write_table(pa.table({"template": repeated, "persona_pair": ["p"] * rows_}),
                   folder / "data" / "bomb_examples.parquet")
    return folder


PEAK = """
import re, sys
from pathlib import Path
from psw.cli import main
rc = main(sys.argv[1:])
peak_kb = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)
print(int(peak_kb) // 1024, rc)
"""


def test_a_parquet_bomb_is_refused_before_it_expands(tmp_path):
    library = bomb(tmp_path / "bomb")
    assert sum(p.stat().st_size for p in library.rglob("*.parquet")) < 100_000
    proc = subprocess.run([sys.executable, "-c", PEAK, "--db", str(tmp_path / "w.duckdb"), "import-hf",
                           str(library)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    peak_mb, rc = map(int, proc.stdout.split())
    assert rc == 2 and "--max-bytes" in proc.stderr and "nothing imported" in proc.stderr, proc.stderr
    assert peak_mb < 600, f"peak {peak_mb} MB while refusing a 1 GB expansion"
    assert not (tmp_path / "w.duckdb").exists()


def test_caps_are_configurable(pilot_library, tmp_path, capsys, monkeypatch):
    db = tmp_path / "w.duckdb"
    psw = Psw(db, capsys)
    one_line_error(*psw("import-hf", pilot_library, "--max-rows", "10")[::2], "--max-rows", "nothing imported")
    one_line_error(*psw("import-hf", pilot_library, "--max-bytes", "20KB")[::2], "--max-bytes")
    monkeypatch.setenv("PSW_IMPORT_MAX_ROWS", "10")
    one_line_error(*psw("import-hf", pilot_library)[::2], "PSW_IMPORT_MAX_ROWS")
    assert not db.exists()
    assert psw("import-hf", pilot_library, "--max-rows", "100000", "--max-bytes", "1GB")[0] == 0
    assert rows(db, "select count(*) from raw.exported_pairs")[0][0] == 64
