"""`psw build` skips a build that would redo the last successful one (warehouse/build_state.py),
builds on any change (a load, a forget, a var, an edited project file, --force), and after a
change to raw tables alone builds what reads them, with the same result as building everything."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import duckdb

from psw.cli import main
from warehouse import build_state, dbt_runner
from warehouse.db import DBT_DIR

from tests.conftest import REFERENCE

SKIPPED = "nothing changed since the last build"
ONE_VIEW = ("--select", "stg_raw__measurements")  # a view and its tests: a cheap build


def _built(psw, *args) -> bool:
    rc, out, err = psw("build", *args)
    assert rc == 0, err
    return SKIPPED not in out


def _ingest_second_run(psw, tmp_path) -> None:
    second = tmp_path / "second_examples.jsonl"
    shutil.copy(REFERENCE / "v2_pilot_seed23_examples.jsonl", second)
    assert psw("ingest", second)[0] == 0


def test_nothing_changed_skips_and_each_change_builds(psw, pilot_copy, tmp_path, monkeypatch):
    assert _built(psw, *ONE_VIEW)  # the pilot's last build ran other arguments
    assert not _built(psw, *ONE_VIEW)
    assert not _built(psw, *ONE_VIEW, "--quiet")  # output flags are not part of the state
    assert _built(psw, *ONE_VIEW, "--force")
    _ingest_second_run(psw, tmp_path)
    assert _built(psw, *ONE_VIEW)
    assert not _built(psw, *ONE_VIEW)
    assert psw("forget", "--measurement", "second")[0] == 0
    assert _built(psw, *ONE_VIEW)
    assert _built(psw, *ONE_VIEW, "--vars", "{strict_min_axis_delta: 9}")
    # the project's files, wherever they are: a copy hashes the same, an edit does not
    project = tmp_path / "dbt"
    shutil.copytree(DBT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    monkeypatch.setattr(build_state, "DBT_DIR", project)
    assert not _built(psw, *ONE_VIEW, "--vars", "{strict_min_axis_delta: 9}")
    model = project / "models" / "staging" / "raw" / "stg_raw__measurements.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    assert _built(psw, *ONE_VIEW, "--vars", "{strict_min_axis_delta: 9}")


def test_the_skip_says_when_and_how_to_build_anyway(psw, pilot_copy):
    assert _built(psw, *ONE_VIEW)
    rc, out, _ = psw("build", *ONE_VIEW)
    assert rc == 0 and re.search(rf"{SKIPPED} \(\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC\).*psw build --force", out)


def _models_run(db: Path) -> set[str]:
    """The models dbt ran in its last invocation on this warehouse."""
    log = (db.parent / f".{db.name}.dbt" / "logs" / "dbt.log").read_text()
    last = log[log.rindex("Running with dbt="):]
    return set(re.findall(r"Began running node model\.\w+\.(\w+)", last))


def _derived_rows(db: Path) -> dict[str, list[str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute("select schema_name, table_name from duckdb_tables() "
                             "where schema_name in ('main', 'intermediate') order by all").fetchall()
        return {f"{s}.{t}": sorted(r[0] for r in con.execute(f"select t::varchar from {s}.{t} as t").fetchall())
                for s, t in tables}


def test_a_new_run_builds_what_reads_it_and_matches_building_everything(psw, pilot_copy, tmp_path):
    assert not _built(psw)  # the shared pilot was built as a user builds it: its copy has nothing to do
    _ingest_second_run(psw, tmp_path)
    everything = tmp_path / "everything" / "warehouse.duckdb"
    everything.parent.mkdir()
    shutil.copy(pilot_copy, everything)

    rc, out, _ = psw("build")
    assert rc == 0 and "raw tables changed: exported_pairs, loads, measurements" in out
    ran = _models_run(pilot_copy)
    assert {"int_exported_pairs", "int_pairs_scored", "template_pair_scores"} <= ran  # (staging is ephemeral)
    # (staging views that read raw.loads, e.g. for where a persona pair was defined, rerun too: cheap)
    assert not ran & {"stg_activation__vectors", "stg_activation__runs", "stg_raw__scenarios"}

    assert main(["--db", str(everything), "build", "--force"]) == 0
    assert len(_models_run(everything)) > len(ran)
    narrowed, full = _derived_rows(pilot_copy), _derived_rows(everything)
    assert narrowed.keys() == full.keys() and "main.template_pair_scores" in narrowed
    for table in full:
        assert narrowed[table] == full[table], table


def test_a_load_a_forget_and_the_same_file_loaded_again_each_move_the_tables_fingerprint(psw, pilot_copy, tmp_path):
    """A table whose rows name their load is fingerprinted by its loads, their times and its row count
    (build_state._hashed), not by its rows' content keys: every way rows arrive or leave still moves it."""
    def exported_pairs() -> list:
        with duckdb.connect(str(pilot_copy), read_only=True) as con:
            return build_state.raw_fingerprints(con)["exported_pairs"]

    pilot = exported_pairs()
    _ingest_second_run(psw, tmp_path)
    second = exported_pairs()
    assert psw("forget", "--measurement", "second")[0] == 0
    assert exported_pairs() == pilot   # the pilot's rows alone again: nothing to build from them
    _ingest_second_run(psw, tmp_path)  # the same file again: its load id and rows, a new loaded_at
    again = exported_pairs()
    assert second != pilot and again not in (pilot, second)
    assert build_state._hashed([("record_id", "VARCHAR"), ("load_id", "VARCHAR"), ("pair_id", "VARCHAR"),
                                ("loaded_at", "TIMESTAMP")]) == ['"load_id"', '"loaded_at"']
    assert build_state._hashed([("vector_id", "VARCHAR"), ("run_id", "VARCHAR"), ("layer", "INTEGER"),
                                ("created_at", "TIMESTAMP")]) == ['"vector_id"', '"run_id"', '"created_at"']


def test_plan_builds_everything_unless_only_declared_raw_tables_changed():
    state = build_state.State({"loads": ["c", 1, "1"], "pairs": ["c", 2, "2"]}, "p", {"args": "a"})
    changed = build_state.State({"loads": ["c", 2, "3"], "pairs": ["c", 2, "2"]}, "p", {"args": "a"})
    assert build_state.plan(state, state).action == "skip"
    assert build_state.plan(state, state, force=True).action == "all"
    assert build_state.plan(None, state).action == "all"
    assert build_state.plan(state, changed).select == ["source:raw.loads+"]
    assert build_state.plan(state, build_state.State(changed.raw, "edited", {"args": "a"})).action == "all"
    assert build_state.plan(state, build_state.State(changed.raw, "p", {"args": "b"})).action == "all"
    selecting = build_state.State(changed.raw, "p", {"args": "a"}, ("--select=examples",))
    assert build_state.plan(state, selecting).action == "all"
    undeclared = build_state.State({**state.raw, "scratch": ["c", 1, "1"]}, "p", {"args": "a"})
    assert build_state.plan(state, undeclared).action == "all"


def test_a_setting_psw_fixes_for_every_run_is_no_part_of_the_state_or_the_kept_parse(tmp_path, monkeypatch):
    """`make` exports DBT_SEND_ANONYMOUS_USAGE_STATS and a shell usually does not; psw sets it for every
    dbt run either way, so a build (or `make setup`'s warming) under one is current under the other."""
    con = duckdb.connect()
    db = tmp_path / "warehouse.duckdb"
    monkeypatch.delenv("DBT_SEND_ANONYMOUS_USAGE_STATS", raising=False)
    plain, key = build_state.current_state(con, []), dbt_runner._manifest_key(db, [])
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    assert build_state.current_state(con, []) == plain and dbt_runner._manifest_key(db, []) == key
    monkeypatch.setenv("DBT_PSW_ANY_OTHER", "1")   # any other DBT_* setting may change what dbt does
    assert build_state.current_state(con, []) != plain and dbt_runner._manifest_key(db, []) != key


def test_the_stored_state_holds_no_argument_or_setting_text(psw, pilot_copy, monkeypatch):
    monkeypatch.setenv("DBT_ENV_SECRET_TOKEN", "sk-not-to-be-stored")
    assert _built(psw, *ONE_VIEW, "--vars", "{note: vars-not-to-be-stored}")
    with duckdb.connect(str(pilot_copy), read_only=True) as con:
        stored = con.execute("select state::varchar from meta.last_build").fetchone()[0]
    assert "not-to-be-stored" not in stored and "stg_raw__measurements" not in stored


def test_the_project_hash_reads_the_projects_files_and_nothing_else(tmp_path, monkeypatch):
    """What a hash reads (a file's path and bytes, outside dbt's folders and dotted names), and that a
    process asking again reads the files again once one is written, added or removed."""
    project = tmp_path / "dbt"
    shutil.copytree(DBT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    monkeypatch.setattr(build_state, "DBT_DIR", project)
    first = build_state.project_hash()
    assert first == build_state.project_hash()
    for litter in ("target/compiled/x.sql", "logs/dbt.log", "dbt_packages/p/x.sql", ".user.yml", "models/.x.swp",
                   ".hidden/x.sql"):
        (project / litter).parent.mkdir(parents=True, exist_ok=True)
        (project / litter).write_text("anything")
    assert build_state.project_hash() == first
    model = project / "models" / "staging" / "raw" / "stg_raw__measurements.sql"
    text = model.read_text()
    edited = text.replace("select", "SELECT", 1)   # the same size
    assert edited != text and len(edited) == len(text)
    model.write_text(edited)
    stat = model.stat()
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))   # a later write, whatever the clock's tick
    assert build_state.project_hash() not in (first, None)
    model.write_text(text)
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2 * 10**9))
    assert build_state.project_hash() == first
    (project / "models" / "new.sql").write_text("select 1")
    assert build_state.project_hash() != first
    (project / "models" / "new.sql").unlink()
    assert build_state.project_hash() == first
