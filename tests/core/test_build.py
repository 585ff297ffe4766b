"""`psw build`: dbt runs in psw's process (warehouse/dbt_runner.py) on the file's bare name, so
a new process starts from the manifest an earlier one kept under the same key (no parse at all),
else from the partial parse saved by an earlier build (no full parse), and a second build in one
process reuses the parsed manifest (no parse at all); after a build the file is free for any
other connection."""

from __future__ import annotations

import pickle
import re
import shutil

import duckdb

from psw.cli import main
from warehouse import dbt_runner
from warehouse.db import DBT_DIR, connect


def _last_log(db) -> str:
    log = (db.parent / f".{db.name}.dbt" / "logs" / "dbt.log").read_text()
    return log[log.rindex("Running with dbt="):]


def test_a_new_process_reuses_the_kept_manifest_else_the_saved_parse(pilot_db, tmp_path, monkeypatch):
    # the cache of this test alone (other workers' builds write the shared one); a new process has
    # no manifest in memory yet (emptied here); the builds take the same arguments that shape a
    # parse (none)
    monkeypatch.setattr(dbt_runner, "PARSE_CACHE", tmp_path / "cache")
    fresh = tmp_path / "elsewhere" / "warehouse.duckdb"
    fresh.parent.mkdir()
    shutil.copy(pilot_db, fresh)
    args = ["--db", str(fresh), "build", "--force", "--select", "template_pair_scores", "stg_raw__measurements"]
    kept = dbt_runner._manifest_file(fresh, [])
    monkeypatch.setattr(dbt_runner, "_manifests", {})
    assert not kept.exists()
    assert main(args) == 0  # parses, and keeps the manifest
    assert kept.exists()

    # kept as a build leaves it (its lookups built: dbt's own pickling put them one field off)
    (key, used), = dbt_runner._manifests.items()
    assert used.ref_lookup and used.source_lookup and used.doc_lookup
    dbt_runner._save_manifest(fresh, [], key, used)
    monkeypatch.setattr(dbt_runner, "_manifests", {})
    assert main(args) == 0
    last = _last_log(fresh)
    assert "Began running node model.persona_steering_warehouse.template_pair_scores" in last
    assert "Partial parsing" not in last and "full parse" not in last  # the kept manifest: no parse at all

    # a manifest kept under another key (another project, dbt or Python) is not used: dbt parses,
    # partially, from the partial parse saved by the earlier build, and the manifest is kept again
    with kept.open("wb") as handle:
        pickle.dump(("another key", None), handle)
    monkeypatch.setattr(dbt_runner, "_manifests", {})
    assert main(args) == 0
    log = (fresh.parent / ".warehouse.duckdb.dbt" / "logs" / "dbt.log").read_text()
    parse = log[log.rindex("Running with dbt="):]
    parse = log[log.rindex("Running with dbt=", 0, len(log) - len(parse)):]
    assert "Partial parsing enabled" in parse
    assert "Unable to do partial parsing" not in parse and "Starting full parse" not in parse
    with kept.open("rb") as handle:
        assert pickle.load(handle)[0] != "another key"


def test_a_second_build_in_one_process_does_not_parse(pilot_copy):
    for _ in range(2):
        assert main(["--db", str(pilot_copy), "build", "--force", "--select", "stg_raw__measurements"]) == 0
    last = _last_log(pilot_copy)
    assert "Began running node model.persona_steering_warehouse.stg_raw__measurements" in last
    assert "Partial parsing" not in last and "full parse" not in last
    # dbt's connection is closed: a connection with other settings opens at once
    with duckdb.connect(str(pilot_copy), read_only=True) as con:
        assert con.execute("select count(*) from meta.last_build").fetchone() == (1,)


def test_the_dbt_unit_tests_pass(pilot_copy, capsys):
    """Every dbt unit test of the project (the formulas on fixed rows), with the models they read
    built as views, on the pilot."""
    assert main(["--db", str(pilot_copy), "build", "--unit-tests"]) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    passed, ran = map(int, re.search(r"(\d+) of (\d+) tests passed", summary).groups())
    assert passed == ran > 20, summary


def test_a_warehouse_built_by_a_checkout_elsewhere_builds_here(pilot_db, tmp_path, monkeypatch):
    # a second checkout of the project (same files, another folder) builds the warehouse first: its
    # folder keeps that checkout's partial parse, its paths in it; then that checkout is gone
    other = tmp_path / "other" / "dbt"
    shutil.copytree(DBT_DIR, other, ignore=shutil.ignore_patterns("target", "logs"))
    db = tmp_path / "shared" / "warehouse.duckdb"
    db.parent.mkdir()
    shutil.copy(pilot_db, db)
    args = ["--db", str(db), "build", "--force", "--select", "model_prices", "template_pair_scores"]
    monkeypatch.setattr(dbt_runner, "_manifests", {})   # a new process
    monkeypatch.setattr(dbt_runner, "PARSE_CACHE", tmp_path / "cache")   # this test's own cache
    with monkeypatch.context() as there:
        there.setattr(dbt_runner, "DBT_DIR", other)
        there.setattr(dbt_runner, "PARSE_CACHE", other / "target" / "parse-by-file-name")
        assert main(args) == 0
    shutil.rmtree(other.parent)
    # here: the seed is read from this checkout's files, not the gone one's
    assert main(args) == 0, _last_log(db)
    assert str(other) not in _last_log(db)
    used = dbt_runner._manifests[dbt_runner._manifest_key(db.resolve(), [])]
    assert {node.root_path for node in used.nodes.values() if node.resource_type == "seed"} == {str(DBT_DIR)}


def test_the_garbage_collector_is_off_while_dbt_runs_and_as_it_was_after(pilot_copy):
    """dbt_runner._gc_paused: no collection walks the process's objects during a build (every event
    dbt fires, from its start to its end, sees the collector off); after it the collector is as the
    caller had it, on or off (a server's child and the program keep it off: psw.server.collector_off)."""
    import gc

    for enabled_before in (True, False):
        (gc.enable if enabled_before else gc.disable)()
        seen: list[bool] = []
        try:
            run = dbt_runner.invoke(pilot_copy, ["run", "--select", "stg_raw__measurements"],
                                    callbacks=[lambda _event: seen.append(gc.isenabled())])
            after = gc.isenabled()
        finally:
            gc.enable()
        assert run.ok
        assert len(seen) > 10 and not any(seen), seen
        assert after is enabled_before



def test_a_build_runs_dbt_on_psws_own_connection_and_leaves_it_as_it_was(pilot_copy, monkeypatch):
    """dbt_runner._handed: `psw build` opens the file once; dbt runs on that connection (dbt-duckdb
    opening a DuckDB of its own fails the build here), with the profile's checkpoint threshold
    while it runs, and the connection has its own settings and catalog back for psw afterwards."""
    from dbt.adapters.duckdb.environments import Environment

    def refused(cls, creds, plugins=None):
        raise AssertionError("dbt-duckdb opened a DuckDB of its own")

    monkeypatch.setattr(Environment, "initialize_db", classmethod(refused))
    assert main(["--db", str(pilot_copy), "build", "--force", "--select", "stg_raw__measurements"]) == 0

    with duckdb.connect() as scratch:   # how DuckDB shows the profile's threshold
        profile = scratch.execute("set checkpoint_threshold = '1GB'; "
                                  "select current_setting('checkpoint_threshold')").fetchone()[0]
    seen = []

    def note(_event):
        if not seen:   # the first event, in dbt's main thread
            seen.append(con.execute("select current_setting('checkpoint_threshold')").fetchone()[0])

    with connect(pilot_copy) as con:
        before = con.execute("select current_setting('checkpoint_threshold'), current_database()").fetchone()
        run = dbt_runner.invoke(pilot_copy, ["run", "--select", "stg_raw__measurements"], connection=con,
                                callbacks=[note])
        assert run.ok
        assert con.execute("select current_setting('checkpoint_threshold'), current_database()").fetchone() == before
        assert con.execute("select count(*) from meta.last_build").fetchone() == (1,)   # psw's catalog again
    assert seen == [profile] and profile != before[0]
