"""psw's resident server: Python, dbt, DuckDB and psw imported once; each command in a fresh process.

A pilot's `psw build` spent ~2 s of its ~6 s starting Python and importing dbt (mashumaro building
dbt's dataclasses, pydantic, networkx) before dbt ran a node; `psw ingest` ~0.4 s of 0.6 s. The server is a
process that has imported them once and waits on a Unix socket. For each command it forks a child,
which takes the caller's arguments, environment, working folder, umask and its standard streams
(the file descriptors themselves, passed over the socket), runs `psw.cli.main` exactly as the `psw`
program would, and sends back the exit status. Each command gets its own fresh child: nothing one
command does (dbt's global state, open connections, the environment) reaches the next, and two
commands run side by side as two processes would.

Who uses it: the `psw` program (psw.cli.entry) for the commands in ROUTED. When no server answers,
the command runs in the program itself, as always, and a server is started in the background for
the next one. Tests and `main()` called in-process never use it.
- PSW_SERVER=off (or 0, no, false) turns it off; PSW_SERVER_IDLE_S (default 900) is how long a server
  waits for a command before it exits; PSW_SERVER_DIR is where its socket lives (default
  /tmp/psw-server-UID, made 0700).
- `psw server start|status|stop` (psw/commands/server.py).

One server per code: its socket is named by a stamp of the interpreter, this checkout's Python files
(paths, sizes, modification times) and the installed packages' folders. Editing psw or installing a
package gives a new stamp, so the next command starts a new server; the old one notices it is stale
and exits within TICK_S.

Security: the socket's folder must be owned by this user and closed to others (0700), the socket is
0600, and the server serves only connections whose peer has its own user id (SO_PEERCRED). The
caller's environment (which may hold API keys) is passed to the child only; the server itself is
started without secret-named variables and writes no request anywhere.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import signal
import socket
import stat
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# the commands a server runs; the others (collect, extract, dashboard, docs, ...) run in the program
ROUTED = frozenset({"build", "ingest", "forget", "sql", "runs"})
ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("psw", "warehouse", "ingest", "collect", "extract", "dashboard", "hf", "report")
IDLE_S = 900.0
TICK_S = 5.0     # how often an idle server checks that its code and socket are still current
START_S = 30.0   # how long `psw server start` waits for a new server to answer
OFF = {"off", "0", "no", "false"}
PROCESS_SETTINGS = ("PYTHONPATH", "PYTHONHASHSEED", "PYTHONUTF8", "PYTHONWARNINGS", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH", re.IGNORECASE)


@dataclass(frozen=True)
class Paths:
    folder: Path
    socket: Path
    lock: Path
    log: Path


def enabled() -> bool:
    return (os.environ.get("PSW_SERVER", "").strip().lower() not in OFF and sys.platform == "linux"
            and hasattr(socket, "send_fds"))


def command_of(argv: list[str]) -> str | None:
    """The subcommand of a psw command line (global --db may come first), or None."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--db":
            skip = True
        elif arg == "--":
            return None
        elif not arg.startswith("-"):
            return arg
    return None


def stamp() -> str:
    """What the server's code is: the interpreter, every Python file of this checkout (path, size,
    modification time) and the folders packages are installed in (an install or removal changes
    theirs). ~2 ms."""
    parts = [sys.executable, sys.version, str(ROOT)]
    for package in PACKAGES:
        for folder, dirs, files in os.walk(ROOT / package):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    st = os.stat(os.path.join(folder, name))
                    parts.append(f"{folder}/{name}:{st.st_size}:{st.st_mtime_ns}")
    for entry in sys.path:
        if entry.endswith("-packages") and os.path.isdir(entry):
            parts.append(f"{entry}:{os.stat(entry).st_mtime_ns}")
    # what a process reads once, at its start (imports, hashing, text encodings, the time zone):
    # a caller whose values differ gets a server started with its own
    parts += [f"{name}={os.environ.get(name)}" for name in PROCESS_SETTINGS]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def paths(code: str | None = None) -> Paths | None:
    """This code's socket, lock and log, in a folder only this user can enter; None if the folder
    cannot be made so (the command then runs in the program)."""
    folder = Path(os.environ.get("PSW_SERVER_DIR") or f"/tmp/psw-server-{os.getuid()}")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    code = code or stamp()
    return Paths(folder, folder / f"{code}.sock", folder / f"{code}.lock", folder / "server.log")


# --- the caller's side --------------------------------------------------------------------------

def run(argv: list[str]) -> int | None:
    """The exit status of `psw ARGV` as a server ran it; None when no server ran it (the caller runs
    it itself). Never raises: anything that goes wrong before the server took the command means the
    caller runs it; Ctrl-C before it started means it never will (its process finds the caller gone)."""
    try:
        if not enabled() or command_of(argv) not in ROUTED or (where := paths()) is None:
            return None
        conn = _connect(where)
        if conn is None:
            return None
        with conn:
            try:
                pid = _send_command(conn, argv)
            except (OSError, ValueError):
                return None   # the server did not take it: nothing ran
            return _wait_for_exit(conn, pid)   # handles its own errors: the command ran, or runs
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:   # noqa: BLE001 (before the server took the command: the caller runs it)
        return None


def collector_off() -> None:
    """Python's cyclic garbage collector off for the rest of a process that runs one ROUTED command and
    exits (a server's child, or the program when no server answered). These commands make few objects
    in reference cycles (a pilot build ~185k, bounded by dbt's nodes, not the warehouse's rows: DuckDB
    holds the data), and the process's memory goes back to the system when it exits. dbt_runner pauses
    the collector while dbt runs; kept off after it, the process does not walk the ~0.6M objects the
    run left (~0.1 s). Commands that run long in Python (collect, extract) keep it on."""
    gc.disable()


def start_later() -> None:
    """Start this code's server in the background if none answers (after a command ran in the program)."""
    try:
        if enabled() and (where := paths()) is not None and _connect(where) is None:
            _spawn(where)
    except Exception:
        pass


def _connect(where: Paths) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(where.socket))
    except OSError:
        conn.close()
        return None
    return conn


def _streams() -> list[tuple[str | None, str | None, bool, bool]]:
    """How the caller's sys.stdin/stdout/stderr encode and buffer (PYTHONIOENCODING, PYTHONUNBUFFERED, a tty)."""
    return [(getattr(s, "encoding", None), getattr(s, "errors", None), bool(getattr(s, "line_buffering", False)),
             bool(getattr(s, "write_through", False))) for s in (sys.stdin, sys.stdout, sys.stderr)]


def _send_command(conn: socket.socket, argv: list[str]) -> int:
    request = {"op": "run", "argv": argv, "cwd": os.getcwd(), "env": dict(os.environ),
               "umask": _umask(), "streams": _streams()}
    _send(conn, request, fds=[0, 1, 2])
    reply = _receive(conn)
    if "pid" not in reply:
        raise ValueError(reply.get("error", "no pid"))
    return int(reply["pid"])


def _wait_for_exit(conn: socket.socket, pid: int) -> int:
    """Wait for the child's exit status. Ctrl-C here is passed on to it (it stops as `psw` would);
    so are SIGTERM and SIGHUP (`timeout`, a closed terminal), and then this process ends by the same
    signal once the child has, as the program would have."""
    ended_by: list[int] = []

    def pass_on(signum, _frame) -> None:
        ended_by.append(signum)
        _signal(pid, signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, pass_on)
    while True:
        try:
            reply = _receive(conn)
            return int(reply["exit"])
        except KeyboardInterrupt:
            _signal(pid, signal.SIGINT)
        except Exception:   # noqa: BLE001 (a lost or garbled reply: never a reason to run the command again)
            if ended_by:
                signal.signal(ended_by[0], signal.SIG_DFL)
                os.kill(os.getpid(), ended_by[0])
            print("error: psw's server lost this command (its process ended without an exit status); "
                  "see its log, or run it again with PSW_SERVER=off", file=sys.stderr)
            return 1


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError:   # it has ended
        pass


def control(op: str) -> dict | None:
    """Ask this code's server `op` ("status" or "stop"); None when none answers."""
    where = paths()
    conn = _connect(where) if where else None
    if conn is None:
        return None
    with conn:
        _send(conn, {"op": op})
        try:
            return _receive(conn)
        except (OSError, ValueError):
            return None


def start(wait_s: float = START_S) -> dict | None:
    """Start this code's server unless one answers, and wait until it does; its status, or None."""
    if not enabled():
        return None
    where = paths()
    if where is None:
        return None
    if (status := control("status")) is not None:
        return status
    _spawn(where)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if (status := control("status")) is not None:
            return status
    return None


def _spawn(where: Paths) -> None:
    import subprocess

    env = {k: v for k, v in os.environ.items() if not SECRET_NAME.search(k)}
    with open(where.log, "ab") as log:
        subprocess.Popen([sys.executable, "-c", "from psw.server import serve; serve()", str(where.socket)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, close_fds=True,
                         start_new_session=True, cwd=str(ROOT), env=env)


def _umask() -> int:
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


# --- messages: one JSON object a line --------------------------------------------------------------

def _send(conn: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode() + b"\n"
    if fds:
        socket.send_fds(conn, [data[:1]], fds)
        data = data[1:]
    conn.sendall(data)


def _receive(conn: socket.socket, fds: int = 0) -> dict:
    """One message; with `fds`, the descriptors sent with its first byte too (as message['fds'])."""
    received: list[int] = []
    if fds:
        first, received, _, _ = socket.recv_fds(conn, 1, fds)
        chunks = [first]
    else:
        chunks = []
    while not chunks or not chunks[-1].endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            raise ValueError("connection closed")
        chunks.append(chunk)
    message = json.loads(b"".join(chunks))
    if received:
        message["fds"] = received
    return message


# --- the server's side ---------------------------------------------------------------------------

def serve() -> None:
    """The server's main loop (`python -c "from psw.server import serve; serve()" SOCKET`)."""
    import fcntl

    where = paths()
    if where is None or str(where.socket) != sys.argv[1]:
        return   # the code changed between the spawn and now: the next command starts the right one
    lock = open(where.lock, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return   # another server of this code runs
    _preload()
    if _threads() != 1:
        print(f"psw server: {_threads()} threads after the imports; a fork could inherit a held lock: "
              "not serving", file=sys.stderr)
        return
    where.socket.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(where.socket))
    os.chmod(where.socket, 0o600)
    listener.listen(64)
    idle_s = _idle_s()
    listener.settimeout(min(TICK_S, idle_s))
    inode = os.stat(where.socket).st_ino
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # children are reaped by the system
    served, started, last = 0, time.time(), time.monotonic()
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                if time.monotonic() - last > idle_s or _stale(where, inode):
                    return
                continue
            last = time.monotonic()
            with conn:
                conn.settimeout(10)
                if not _same_user(conn):
                    continue
                try:
                    message = _receive(conn, fds=3)
                except (OSError, ValueError):
                    continue
                fds = message.pop("fds", [])
                op = message.get("op")
                if op == "run" and len(fds) == 3:
                    served += 1
                    _refresh_caches()
                    if os.fork() == 0:
                        listener.close()
                        lock.close()
                        _child(conn, fds, message)   # never returns
                elif op == "status":
                    _send(conn, {"pid": os.getpid(), "socket": str(where.socket), "served": served,
                                 "up_s": round(time.time() - started, 1), "idle_s": idle_s, "root": str(ROOT)})
                elif op == "stop":
                    _send(conn, {"stopped": os.getpid()})
                    return
                for fd in fds:
                    os.close(fd)
    finally:
        listener.close()
        try:
            if os.stat(where.socket).st_ino == inode:
                where.socket.unlink()
        except OSError:
            pass


def _idle_s() -> float:
    try:
        return float(os.environ.get("PSW_SERVER_IDLE_S") or IDLE_S)
    except ValueError:
        return IDLE_S


def _stale(where: Paths, inode: int) -> bool:
    """The code changed (a new stamp), or the socket is gone or another's."""
    try:
        return paths() != where or os.stat(where.socket).st_ino != inode
    except OSError:
        return True


def _same_user(conn: socket.socket) -> bool:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", creds)
    return uid == os.getuid()


def _preload() -> None:
    """What every command would import: psw's commands, dbt and what a build loads on its first query
    (agate's type tester reads Babel's locale data: ~0.15 s a process), DuckDB. Not pyarrow: its
    import starts threads (jemalloc's, Arrow's), and a process forked from one with other threads
    can inherit a lock held forever; `serve` checks that only its own thread runs."""
    import psw.cli

    # each command's parser, built here once: a command runs in a fork of this process, so what its
    # parse leaves on the parser (argparse shares a default between parses) never reaches the next
    psw.cli.PARSER[:] = [psw.cli.make_parser()]
    import _strptime  # noqa: F401
    import dbt.adapters.duckdb  # noqa: F401
    import dbt.adapters.duckdb.environments.local  # noqa: F401
    import dbt.cli.main  # noqa: F401
    import dbt.compilation  # noqa: F401
    import dbt.task.build  # noqa: F401
    import dbt.task.sql  # noqa: F401
    import dbt_common.clients.agate_helper  # noqa: F401
    import duckdb  # noqa: F401
    import multiprocessing.pool  # noqa: F401
    import sqlparse  # noqa: F401

    from warehouse import (  # noqa: F401
        dbt_agate, dbt_columns, dbt_events, dbt_flags, dbt_graph, dbt_jinja, dbt_runner, dbt_schemas, kept_file)

    # and what each build reads from psw's caches in dbt/target/ (read whole, here, once): compiled
    # templates, JSON schemas. Not the kept manifests: a dbt Manifest holds a multiprocessing lock (a
    # named semaphore), which every forked command would share, so one killed while holding it would
    # leave the next waiting forever (and making one starts multiprocessing's tracker process here)
    dbt_jinja._load_once()
    dbt_schemas._load_once()
    # DuckDB's keywords (which warehouse names dbt must open by path): an in-memory DuckDB, ~20 ms a
    # build; its threads end with it (closed, as `serve` checks)
    dbt_runner._keywords()
    for package in dbt_runner.DBT_PACKAGES:
        kept_file.version(package)


def _refresh_caches() -> None:
    """Before a command is forked: the caches `_preload` read, read again where a command since wrote
    them (a child's compiled templates and schemas reach the file, not this process). A stat of each
    file a command; a read only after a command added to one. A cache is best effort: never raises."""
    from warehouse import dbt_jinja, dbt_schemas

    for cache in (dbt_jinja, dbt_schemas):
        try:
            cache.refresh()
        except Exception:  # noqa: BLE001 (the command then compiles what it lacks, as before)
            pass


def _threads() -> int:
    """Threads of this process, the system's count (Python's misses those native code starts)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def _child(conn: socket.socket, fds: list[int], request: dict) -> None:
    """Run the command as the caller's process would have, then leave with its status."""
    import atexit
    import threading

    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        collector_off()
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
            os.close(fd)
        _reopen_streams(request.get("streams") or [])
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        os.umask(int(request["umask"]))
        sys.argv = ["psw", *request["argv"]]
        try:
            _send(conn, {"pid": os.getpid()})
        except OSError:   # the caller is gone (Ctrl-C before the command started): nothing ran
            os._exit(1)
        from psw.cli import main

        try:
            code = main(request["argv"])
        except SystemExit as exc:   # argparse: --help, a usage error
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
        threading._shutdown()   # as Python's exit: wait for the command's own (non-daemon) threads
        atexit._run_exitfuncs()
    except BaseException as exc:  # noqa: BLE001 (one line, never a traceback)
        try:
            print(f"error: psw's server could not run the command: {type(exc).__name__}: {exc}", file=sys.stderr)
        except Exception:
            pass
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        try:
            _send(conn, {"exit": code})
        except Exception:
            pass
        os._exit(code)


def _reopen_streams(streams: list) -> None:
    """sys.stdin/stdout/stderr over fds 0-2 (now the caller's), with its encodings and buffering."""
    import io

    for i, name in enumerate(("stdin", "stdout", "stderr")):
        encoding, errors, line_buffering, write_through = (list(streams[i]) + [None] * 4)[:4] \
            if i < len(streams) else (None, None, i == 2, False)
        raw = io.FileIO(i, "r" if i == 0 else "w", closefd=False)
        buffered = io.BufferedReader(raw) if i == 0 else io.BufferedWriter(raw)
        setattr(sys, name, io.TextIOWrapper(buffered, encoding=encoding or "utf-8", errors=errors or "strict",
                                            line_buffering=bool(line_buffering), write_through=bool(write_through)))
