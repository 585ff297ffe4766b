"""psw's resident server (psw/server.py): a command it runs behaves as the `psw` program running it
itself (output, exit status, the caller's folder and environment, Ctrl-C), it runs in a fresh child
each time, and the server keeps to its user, its code and its idle time. Each test has its own server
in its own folder (the suite runs with PSW_SERVER=off: tests/conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from psw import server
from tests.conftest import PILOT_FILES, copy_warehouse

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = PILOT_FILES[3]


@pytest.fixture
def served():
    """Environment for `psw` with the server on, in a short private folder (a socket path holds
    at most 107 bytes); the server is stopped afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="psws", dir="/tmp"))
    env = {**os.environ, "PSW_SERVER": "on", "PSW_SERVER_DIR": str(folder),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    yield env
    subprocess.run([sys.executable, "-m", "psw.cli", "server", "stop"], env=env, cwd=ROOT,
                   capture_output=True, timeout=60)
    shutil.rmtree(folder, ignore_errors=True)


def _psw(env: dict, *args: str, cwd: Path = ROOT, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "psw.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300, **kw)


def _status(env: dict) -> dict | None:
    run = _psw(env, "server", "status", "--json")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout) if run.stdout.startswith("{") else None


def test_a_served_ingest_build_and_query_print_and_exit_as_the_program_does(served, tmp_path):
    started = _psw(served, "server", "start", "--json")
    assert started.returncode == 0, started.stderr
    pid = json.loads(started.stdout)["pid"]
    assert _children(pid) == []   # an idle server runs nothing (no helper process a command would share)
    db = tmp_path / "served.duckdb"
    ingest = _psw(served, "--db", str(db), "ingest", str(EXAMPLES), "--measurement", "pilot")
    assert ingest.returncode == 0 and ingest.stdout.startswith(f"{EXAMPLES}: loaded 64 examples records"), ingest.stderr
    build = _psw(served, "--db", str(db), "build")
    assert build.returncode == 0, build.stderr
    assert build.stdout.startswith("built ") and build.stdout.endswith("\n") and build.stderr == ""
    status = _status(served)
    assert status["pid"] == pid and status["served"] == 2   # both ran in children of the one server

    # the same query on a warehouse the program built itself (PSW_SERVER=off) prints the same
    local = {**served, "PSW_SERVER": "off"}
    query = "select template_text, persona_pair_id, score from template_pair_scores order by all"
    by_server = _psw(served, "--db", str(db), "sql", query, "--format", "csv", "--max-rows", "100")
    assert by_server.returncode == 0, by_server.stderr
    mine = tmp_path / "local.duckdb"
    assert _psw(local, "--db", str(mine), "ingest", str(EXAMPLES), "--measurement", "pilot").returncode == 0
    assert _psw(local, "--db", str(mine), "build").returncode == 0
    by_program = _psw(local, "--db", str(mine), "sql", query, "--format", "csv", "--max-rows", "100")
    assert by_server.stdout == by_program.stdout and len(by_server.stdout.splitlines()) > 10

    # a refused query: exit 2 and one line, from the server as from the program
    bad = _psw(served, "--db", str(db), "sql", "select nope")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and len(bad.stderr.splitlines()) == 1
    assert bad.stderr == _psw(local, "--db", str(db), "sql", "select nope").stderr
    assert _status(served)["served"] == 4


def test_the_command_takes_the_callers_folder_and_environment(served, pilot_db, tmp_path):
    db = copy_warehouse(pilot_db, tmp_path / "here.duckdb")
    assert _psw(served, "server", "start").returncode == 0
    relative = _psw(served, "--db", "here.duckdb", "sql", "select count(*) as n from template_pair_scores",
                    "--format", "csv", cwd=tmp_path)
    assert (relative.returncode, relative.stdout) == (0, "n\n16\n"), relative.stderr
    by_env = _psw({**served, "PSW_DB": str(db)}, "sql", "select count(*) as n from measurements", "--format", "csv")
    assert (by_env.returncode, by_env.stdout) == (0, "n\n1\n"), by_env.stderr
    missing = _psw(served, "--db", "nowhere.duckdb", "sql", "select 1", cwd=tmp_path)
    assert missing.returncode == 2 and f"{tmp_path}/nowhere.duckdb" in missing.stderr
    assert _status(served)["served"] == 3


@pytest.mark.parametrize("mode", ["on", "off"])
def test_ctrl_c_while_dbt_runs_nodes_says_interrupted_and_exits_130(served, pilot_db, tmp_path, mode):
    """Served or not. (dbt catches the KeyboardInterrupt itself: psw said "dbt could not start", exit 2,
    with a line of dbt's traceback, before it re-raised it.)"""
    env = {**served, "PSW_SERVER": mode}
    db = copy_warehouse(pilot_db, tmp_path / "warehouse.duckdb")
    if mode == "on":
        assert _psw(env, "server", "start").returncode == 0
    build = subprocess.Popen([sys.executable, "-m", "psw.cli", "--db", str(db), "build", "--force"], cwd=ROOT,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = db.parent / f".{db.name}.dbt" / "logs" / "dbt.log"
    deadline = time.monotonic() + 60
    while not (log.exists() and "Concurrency:" in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)   # dbt is running nodes
    build.send_signal(signal.SIGINT)
    out, err = build.communicate(timeout=120)
    assert build.returncode == 130, err
    assert "Traceback" not in err and 'File "' not in err and err.splitlines() == ["interrupted"]
    if mode == "on":
        assert _status(env)["served"] == 1


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (the server's running commands)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_sigterm_to_the_caller_ends_the_served_command_and_the_caller_alike(served, pilot_db, tmp_path):
    """`timeout 60 psw build`: the build stops when the caller is told to, as the program would."""
    db = copy_warehouse(pilot_db, tmp_path / "warehouse.duckdb")
    started = _psw(served, "server", "start", "--json")
    server_pid = json.loads(started.stdout)["pid"]
    build = subprocess.Popen([sys.executable, "-m", "psw.cli", "--db", str(db), "build", "--force"], cwd=ROOT,
                             env=served, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = db.parent / f".{db.name}.dbt" / "logs" / "dbt.log"
    deadline = time.monotonic() + 60
    while not (log.exists() and "Concurrency:" in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_children(server_pid)) == 1   # the build runs in the server's child (and nothing else does)
    build.terminate()
    build.communicate(timeout=60)
    assert build.returncode == -signal.SIGTERM
    deadline = time.monotonic() + 10
    while _children(server_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _children(server_pid) == []


def test_an_idle_server_exits_and_takes_its_socket_with_it(served):
    env = {**served, "PSW_SERVER_IDLE_S": "1"}
    started = _psw(env, "server", "start", "--json")
    assert started.returncode == 0, started.stderr
    socket_path = Path(json.loads(started.stdout)["socket"])
    deadline = time.monotonic() + 30
    while socket_path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not socket_path.exists() and _status(env) is None


def test_the_server_holds_no_secret_and_a_command_still_gets_it(served, tmp_path):
    env = {**served, "OPENAI_API_KEY": "sk-test-not-a-real-key-1234567890"}
    started = _psw(env, "server", "start", "--json")
    assert started.returncode == 0, started.stderr
    pid = json.loads(started.stdout)["pid"]
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    assert b"sk-test-not-a-real-key" not in environ and b"OPENAI_API_KEY" not in environ
    assert b"PSW_SERVER_DIR" in environ


def test_a_folder_others_can_open_is_refused_and_commands_run_in_the_program(served, pilot_db, tmp_path):
    folder = Path(served["PSW_SERVER_DIR"])
    folder.chmod(0o755)
    refused = _psw(served, "server", "start")
    assert refused.returncode == 2 and "mode 0700" in refused.stderr and len(refused.stderr.splitlines()) == 1
    db = copy_warehouse(pilot_db, tmp_path / "warehouse.duckdb")
    query = _psw(served, "--db", str(db), "sql", "select count(*) as n from template_pair_scores", "--format", "csv")
    assert (query.returncode, query.stdout) == (0, "n\n16\n")
    assert not list(folder.glob("*.sock"))   # nothing was served or started there


def test_a_change_to_the_code_names_another_server(tmp_path, monkeypatch):
    (tmp_path / "psw").mkdir()
    module = tmp_path / "psw" / "x.py"
    module.write_text("A = 1\n")
    monkeypatch.setattr(server, "ROOT", tmp_path)
    before = server.stamp()
    assert server.stamp() == before
    module.write_text("A = 22\n")
    assert server.stamp() != before
    (tmp_path / "psw" / "notes.txt").write_text("not code")
    changed = server.stamp()
    assert server.stamp() == changed
    monkeypatch.setenv("TZ", "Pacific/Auckland")   # read once, at a process's start
    assert server.stamp() != changed


@pytest.mark.parametrize("argv, command", [
    (["build"], "build"), (["--db", "x.duckdb", "build", "--force"], "build"), (["--db", "build", "sql", "q"], "sql"),
    (["--db=x", "ingest", "f"], "ingest"), (["--version"], None), ([], None), (["--", "build"], None),
])
def test_the_command_is_found_after_global_options(argv, command):
    assert server.command_of(argv) == command


@pytest.mark.parametrize("argv, collects", [(["runs"], False), (["build", "--quiet"], False),
                                            (["lint", "pairs.jsonl"], True), (["collect", "--help"], True)])
def test_the_program_runs_a_routed_command_without_the_garbage_collector(argv, collects, monkeypatch):
    """psw.server.collector_off: a command the server would run (ROUTED), run by the program itself,
    runs with the collector off (one command, then the process ends), as in a server's child; the
    others (collect, extract: long-running Python) keep it."""
    import gc

    from psw import cli

    seen: list[bool] = []
    monkeypatch.setattr(sys, "argv", ["psw", *argv])
    monkeypatch.setattr(server, "run", lambda _argv: None)   # no server answers
    monkeypatch.setattr(server, "start_later", lambda: None)
    monkeypatch.setattr(cli, "main", lambda: seen.append(gc.isenabled()) or 0)
    monkeypatch.setattr(cli, "_leave", lambda code: sys.exit(code))   # not os._exit in the test's process
    try:
        with pytest.raises(SystemExit):
            cli.entry()
    finally:
        gc.enable()
    assert seen == [collects]


def test_before_each_command_the_server_reads_again_the_caches_a_command_wrote(monkeypatch):
    """serve() calls _refresh_caches before each fork: each of the caches _preload read is read again
    where a command wrote it since (warehouse/dbt_jinja.py, dbt_schemas.py test what refresh reads); a
    cache that fails to read is skipped, never the command."""
    from warehouse import dbt_jinja, dbt_schemas

    asked = []
    monkeypatch.setattr(dbt_jinja, "refresh", lambda: asked.append("jinja") or 1 / 0)
    monkeypatch.setattr(dbt_schemas, "refresh", lambda: asked.append("schemas"))
    server._refresh_caches()
    assert asked == ["jinja", "schemas"]


def test_a_running_server_refreshes_its_caches_before_each_command_it_forks(served, tmp_path):
    """The server's loop (serve) calls _refresh_caches once for each command it runs, in the server
    itself (a real server, its _refresh_caches noting each call in a file), and the commands still run."""
    marker = tmp_path / "refreshed"
    script = ("import sys\nfrom pathlib import Path\nfrom psw import server\nreal = server._refresh_caches\n"
              "def noted():\n    Path(sys.argv[2]).open('a').write('refresh\\n')\n    real()\n"
              "server._refresh_caches = noted\nserver.serve()\n")
    socket_path = Path(served["PSW_SERVER_DIR"]) / f"{server.stamp()}.sock"   # where a `psw` looks for it
    spawned = subprocess.Popen([sys.executable, "-c", script, str(socket_path), str(marker)], cwd=ROOT, env=served,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while _status(served) is None and time.monotonic() < deadline and spawned.poll() is None:
        time.sleep(0.2)
    assert _status(served) is not None, spawned.stderr.read() if spawned.poll() is not None else "no answer"
    db = tmp_path / "none.duckdb"
    for _ in range(2):
        run = _psw(served, "--db", str(db), "sql", "select 1")
        assert run.returncode == 2 and "no warehouse here yet" in run.stderr
    assert _status(served)["served"] == 2 and marker.read_text() == "refresh\n" * 2
    assert _psw(served, "server", "stop").returncode == 0
    spawned.wait(timeout=30)
