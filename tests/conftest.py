"""Shared fixtures: the published pilot (read from ../shared, never copied) and a psw runner."""

from __future__ import annotations

import os
import re
import shutil
import signal
from pathlib import Path

import pytest

from psw.cli import main

ROOT = Path(__file__).resolve().parents[1]
# psw's resident server (psw/server.py) stays out of the suite: every `psw` a test starts runs in its
# own process. tests/cli/test_server.py turns it on for servers of its own, in folders of its own.
os.environ["PSW_SERVER"] = "off"
# A suite started with SIGINT ignored (a background job of a non-interactive shell: `make test &`)
# passes that on to every psw it starts, and the tests that press Ctrl-C on one would see it ignored.
# A handler is reset to the default when a child execs, so each psw starts as from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
REFERENCE = ROOT.parent / "shared" / "reference" / "pilot-v2-seed23"
PILOT_FILES = [
    REFERENCE / "persona_pairs_v2_candidates.jsonl",
    REFERENCE / "scenarios_v2_candidates.jsonl",
    REFERENCE / "templates_v2_candidates.txt",
    REFERENCE / "v2_pilot_seed23_examples.jsonl",
]
PILOT_META = ["--generator-model", "qwen/qwen3.5-27b", "--judge-model", "google/gemini-3.1-flash-lite-preview",
              "--temperature", "0", "--seed", "23"]


class Psw:
    """Runs `psw` in-process against one warehouse and captures what it prints."""

    def __init__(self, db: Path, capsys):
        self.db, self.capsys = db, capsys

    def __call__(self, *args: object) -> tuple[int, str, str]:
        self.capsys.readouterr()
        rc = main(["--db", str(self.db), *map(str, args)])
        out, err = self.capsys.readouterr()
        return rc, out, err


@pytest.fixture(autouse=True)
def _forget_registered_keys():
    """A key a test's client registered (warehouse.secrets) is redacted for the rest of that process,
    as in one psw command; tests share a process, so each starts with none."""
    from warehouse import secrets
    yield
    with secrets._lock:
        secrets._registered.clear()
        secrets._patterns.clear()


@pytest.fixture
def psw(tmp_path, capsys) -> Psw:
    return Psw(tmp_path / "warehouse.duckdb", capsys)


def built_per_run(tmp_path_factory, key: str, fill) -> Path:
    """A warehouse `fill(db)` ingests and builds, made once per test run (not once per xdist worker:
    the first worker to ask builds it in the run's shared folder, under a lock; a later one waits
    for it) and copied for this worker, with its dbt folder beside it: each worker reads its own
    file, so no worker's connection ever holds a lock another one meets. `fill` asserts what it runs."""
    own = tmp_path_factory.mktemp(key) / "warehouse.duckdb"
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        fill(own)
        return own
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent / f"shared-{key}"   # the run's folder, above each worker's
    done = shared / "built"
    with FileLock(str(shared) + ".lock"):
        if not done.exists():
            shutil.rmtree(shared, ignore_errors=True)   # a worker that failed half-way left it
            shared.mkdir()
            fill(shared / "warehouse.duckdb")
            done.touch()
    copy_warehouse(shared / "warehouse.duckdb", own)
    dbt_folder = shared / ".warehouse.duckdb.dbt"
    if dbt_folder.is_dir():
        shutil.copytree(dbt_folder, own.parent / dbt_folder.name)
    return own


def _fill_pilot(db: Path) -> None:
    assert main(["--db", str(db), "ingest", *map(str, PILOT_FILES), *PILOT_META]) == 0
    # a plain build, as a user's: a later `psw build` of a copy builds only what changed (or skips);
    # the dbt unit tests run in tests/core/test_build.py::test_the_dbt_unit_tests_pass
    assert main(["--db", str(db), "build"]) == 0


@pytest.fixture(scope="session")
def pilot_db(tmp_path_factory) -> Path:
    """A warehouse built once per run from the reference pilot (this worker's own copy of it);
    read it as it is, copy it before writing to it."""
    if not REFERENCE.is_dir():
        pytest.fail(f"reference data missing at {REFERENCE}")
    return built_per_run(tmp_path_factory, "pilot", _fill_pilot)


@pytest.fixture
def pilot_copy(pilot_db, tmp_path) -> Path:
    target = tmp_path / "warehouse.duckdb"
    shutil.copy(pilot_db, target)
    return target


def copy_warehouse(source: Path, target: Path) -> Path:
    """A writable copy of a built warehouse file (and its WAL, if one was left), so a test that
    writes to it leaves the shared original as it was. The copy keeps the stored build state
    (meta.last_build); dbt's target and log folder beside the file is not needed and not copied."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    wal = source.with_name(source.name + ".wal")
    if wal.exists():
        shutil.copy(wal, target.with_name(target.name + ".wal"))
    return target


def fresh_kept(module, path: Path, monkeypatch) -> Path:
    """One of psw's caches of dbt's work (warehouse.dbt_jinja, warehouse.dbt_schemas) on the file `path`,
    empty in memory and not yet read: as a new process finds it; its store installed in dbt."""
    monkeypatch.setattr(module, "KEPT_FILE", path)
    monkeypatch.setattr(module, "_kept", {})
    monkeypatch.setattr(module, "_state", {"loaded": False, "new": 0, "read": None})
    module.install()
    return path


@pytest.fixture(scope="session")
def built_once(tmp_path_factory):
    """built_once(key, fill) -> a warehouse `fill(db)` ingested and built, made once per worker and
    key (each `psw build` costs 10-20 s); read it as it is, or `copy_warehouse` it before writing."""
    made: dict[str, Path] = {}

    def get(key: str, fill) -> Path:
        if key not in made:
            db = tmp_path_factory.mktemp(f"built-{key}") / "warehouse.duckdb"
            fill(db)
            made[key] = db
        return made[key]

    return get


# ---- which xdist worker runs what (`make test`: -n auto --dist loadfile) -----------------------
# A session fixture is made once per worker. The test files that name one of these costly ones
# (builds, exports) run on one worker together, so it is made once per run, not once per worker.
ONE_WORKER_FIXTURES = {"screened_db": "screened", "pilot_export": "pilot-export", "pilot_library": "pilot-library"}


# Seconds each costly unit took (its tests' setup, call and teardown), from `--durations=0` of a
# 2-core run (2026-12-05 12:45 UTC; measure again when units move: a 40 s unit taken as a few
# seconds is given out last and one worker runs it alone); a unit not listed is taken as
# SECONDS_A_TEST a test. xdist gives out units from a queue: the costliest go first, so the run's
# last units are short ones and both workers finish near the same time (xdist's own order, by
# number of tests, put one-test units of 40-60 s last).
UNIT_SECONDS = {
    "core/test_incremental.py": 68, "core/test_build_guarantees.py": 63, "core/test_empty_models.py": 52,
    "collect/test_collect.py": 46, "cli/test_server.py": 45, "dashboard/test_browser.py": 42,
    "core/test_incremental_by_template.py": 35, "extract/test_reference_pilot.py": 34, "core/test_records.py": 31,
    "collect/test_adaptive.py": 29,
    "core/test_row_groups.py": 28, "collect/test_local_servers.py": 26, "dashboard/test_daily_pages.py": 25,
    "core/test_build.py": 24, "security/test_hardening_secrets.py": 22, "core/test_identity.py": 20,
    "core/test_anchored.py": 18, "cli/test_docs_command.py": 18, "collect/test_protocol.py": 17,
    "dashboard/test_pages.py": 17, "core/test_anchored_incremental.py": 16, "pilot-export": 16, "screened": 15,
    "core/test_anchored_templates.py": 15, "core/test_warm.py": 14, "security/test_security_locks.py": 14,
    "hf/test_upstream_hf_roundtrip.py": 14, "collect/test_axis_config.py": 13, "core/test_build_skip.py": 13,
    "extract/test_steered_outputs.py": 12, "extract/test_imported_vectors.py": 12,
    "core/test_mutations.py": 12, "hf/test_hf_lossless.py": 12, "security/test_security_secrets.py": 12,
    "security/test_cli_fuzz.py": 11, "extract/test_messages.py": 11, "pilot-library": 11,
    "core/test_materializations.py": 10, "core/test_bad_input.py": 9, "cli/test_demo_flow.py": 9,
    "core/test_upstream_shapes.py": 9, "core/test_dbt_events.py": 9, "cli/test_exit.py": 9,
    "dashboard/test_reproduce_page.py": 9, "core/test_v3_artifact.py": 9, "core/test_published.py": 8,
    "hf/test_selection_stages.py": 8, "collect/test_anchored_collect.py": 8, "report/test_report.py": 7,
    "security/test_hardening_sql.py": 7, "extract/test_bootstrap_vectors.py": 7, "core/test_v3_export.py": 7,
    "stats/test_analytic_intervals.py": 7,
}
SECONDS_A_TEST = 0.3


def worker_unit(root: Path, file: str) -> str:
    """What xdist sends to one worker as a unit: the group of ONE_WORKER_FIXTURES the test file
    names (by its text: a fixture is asked for by name), else the file itself."""
    try:
        text = (root / file).read_text()
    except OSError:
        text = ""
    return next((group for fixture, group in ONE_WORKER_FIXTURES.items() if re.search(rf"\b{fixture}\b", text)), file)


def unit_seconds(unit: str, tests: dict) -> float:
    return UNIT_SECONDS.get(unit.removeprefix("tests/"), SECONDS_A_TEST * len(tests))


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile` (a file's tests on one worker, so its module fixtures are made once), with
    the files that share a fixture of ONE_WORKER_FIXTURES sent as one unit, the costliest units
    first (UNIT_SECONDS). (`--dist loadgroup` would say this with marks, but under pytest 9 it no
    longer groups anything.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    units: dict[str, str] = {}

    class LoadFileOrShared(LoadFileScheduling):
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            if file not in units:
                units[file] = worker_unit(config.rootpath, file)
            return units[file]

        def _assign_work_unit(self, node) -> None:
            if not self.ordered:   # the queue is complete before the first unit is given out
                queue = sorted(self.workqueue.items(), key=lambda unit: -unit_seconds(*unit))
                self.workqueue.clear()
                self.workqueue.update(queue)
                self.ordered = True
            super()._assign_work_unit(node)

    return LoadFileOrShared(config, log)
