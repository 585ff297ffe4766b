"""Run dbt in this process against one warehouse: dbt's arguments in, its results and events out.

`invoke` is the one place psw starts dbt (`psw build`, `psw docs`, the staging views
`psw collect` needs). It runs dbt's own `dbtRunner` in this process, so:
- dbt's imports are paid once per process, and only when a command needs dbt (a no-op
  `psw build` never imports it);
- the project's parse (dbt's manifest) is kept for the process and handed back to dbt
  (`dbtRunner(manifest=...)`) while the project files, the warehouse's file name and the
  arguments that shape a parse (vars, target, profile) are unchanged: a second build in one
  process (the test suite, `psw collect --adaptive` rounds) does not parse at all;
- a first build in a new process starts from the manifest an earlier process parsed under the
  same key (the same project files, dbt, Python, warehouse file name and shaping arguments),
  kept pickled beside the partial parse (`_load_manifest`): loading it takes ~0.1 s; dbt's
  partial parse and checks took ~0.6 s more of a pilot build's setup. Without one, dbt parses (partially, from the partial
  parse saved by an earlier build of any warehouse of the same file name and vars: `parse_cache`)
  in a `parse` invocation of its own, and the manifest is kept for the next process;
- ephemeral models are folded into their readers by warehouse/dbt_ctes.py (dbt's own way parses
  each reader's whole SQL: ~15% of a pilot build);
- Jinja's compiled templates are kept across runs and processes (warehouse/dbt_jinja.py), and
  dbt's log events are built by protobuf's constructors, not its JSON parser
  (warehouse/dbt_events.py): each was ~10% of a fresh pilot build's CPU; dbt's JSON schemas of its
  config classes are kept across processes too (warehouse/dbt_schemas.py, ~5%); dbt.log's lines
  go to the file without Python's logging (warehouse/dbt_logfile.py, ~7%);
- Python's cyclic garbage collector is paused while dbt runs (`_gc_paused`): its collections of
  the objects dbt's nodes make in cycles took ~0.3 s of CPU a pilot build;
- every event dbt emits reaches the callbacks given (a progress printer hooks in here) and is
  kept on the returned DbtRun.
dbt runs in the warehouse's folder on the file's bare name (the profile, and with it the
parse, is then the same for every warehouse of that name). `psw build` hands dbt its own open
connection (`_handed`): the file is opened once a build. Otherwise, after each run dbt-duckdb's
connection is closed, so the file is free at once for psw, or for anything else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import hashlib
import io
import json
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from warehouse import build_state, dbt_ctes
from warehouse.db import DBT_DIR, catalog_name, memory_limit, sql_identifier, sql_literal
from warehouse.kept_file import stamp, write_whole

PARSE_FILE = "partial_parse.msgpack"
PARSE_CACHE = DBT_DIR / "target" / "parse-by-file-name"  # in dbt's own (git-ignored) target folder
# arguments that change what dbt parses: a kept manifest is reused only under the same ones
_PARSE_ARGS = {"--vars", "--target", "-t", "--profile"}
_manifests: dict[tuple, Any] = {}
DBT_PACKAGES = ("dbt-core", "dbt-duckdb", "dbt-adapters", "dbt-common")
PICKLE_FORMAT = 2  # 2: by named fields (_ManifestPickler); 1 (dbt's own reduce) is never read


@dataclass
class DbtRun:
    """What one dbt invocation did: `ok`, dbt's result objects and every event it emitted."""
    ok: bool
    results: list = field(default_factory=list)   # dbt RunResult per node (node, status, message)
    events: list = field(default_factory=list)    # dbt EventMsg, in order
    exception: BaseException | None = None        # what stopped dbt before it ran nodes (a parse error)

    def __bool__(self) -> bool:
        return self.ok


def target_dir(db: Path) -> Path:
    """dbt's target folder for this warehouse (compiled SQL, manifest, docs), beside the file."""
    db = db.resolve()
    return db.parent / f".{db.name}.dbt" / "target"


def invoke(db: Path, args: list[str], callbacks: Iterable[Callable[[Any], None]] = (),
           connection=None) -> DbtRun:
    """Run `dbt <args>` (e.g. ["build", "--select", "x"]) on the warehouse `db`; never raises for
    a failing node: read `ok`, `results` and `exception`. `connection`: the caller's writer
    connection to `db` (warehouse.db.connect), given only where `takes_connection` says so, which dbt
    then runs on instead of opening the file again (`_handed`), and which stays open for the caller
    afterwards."""
    from dbt.cli.main import dbtRunner  # ~2 s of imports: only when dbt runs

    from warehouse import (  # dbt's and its packages': only when dbt runs
        dbt_agate, dbt_columns, dbt_events, dbt_flags, dbt_graph, dbt_jinja, dbt_logfile, dbt_schemas,
        dbt_selector)

    dbt_ctes.install()  # ephemeral staging folded in without a full SQL parse per model
    dbt_graph.install()  # its graph summary from each node's type, not each node serialised
    dbt_flags.install()  # an adapter's behavior flags named by a frame walk, not inspect.stack()
    dbt_jinja.install()  # templates compiled once, kept across runs and processes
    dbt_events.install()  # dbt's log events (~2,100 a pilot build) built in C, not by ParseDict
    dbt_logfile.install()  # dbt.log's lines written to the file, not through Python's logging
    dbt_columns.install()  # a model's columns read without a macro context or an agate table
    dbt_agate.install()  # agate's type testers made once, not for every statement's result
    dbt_schemas.install()  # its config classes' JSON schemas built once, kept across processes
    dbt_selector.install()  # nodes selected by name from an index, not by a pass over every node a name

    db = db.resolve()
    target = target_dir(db)
    args = [a for a in args if a != "--"]
    # the profile's output for this file, unless the caller named one: a function of the file's
    # name, which the caches' keys hold already
    targeted = args if _names_target(args) else [
        *args, "--target", profile_target(db)]
    cached = parse_cache(db, args)
    # dbt starts from this checkout's partial parse, never from one a warehouse's folder kept from a
    # build by another checkout (its files' paths would be that checkout's): none, if there is none yet
    _copy(cached, target / PARSE_FILE)
    paths = ["--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
             "--target-path", str(target), "--log-path", str(target.parent / "logs")]
    key = _manifest_key(db, args)
    events: list = []
    with _dbt_setting(db), _noting_ctrl_c() as interrupted, _gc_paused(), _handed(connection):
        try:
            if key not in _manifests and (kept := _load_manifest(db, args, key)) is not None:
                _manifests[key] = kept
            if key not in _manifests:
                # parse once (partially), keep the manifest for every later run, here and in later processes
                parsed = dbtRunner().invoke(["parse", "--quiet", "--no-write-json", *_shaping(targeted), *paths])
                dbt_logfile.flush()
                if parsed.success:  # else the run below parses again and reports the error as a build would
                    _manifests[key] = parsed.result
                    _save_manifest(db, args, key, parsed.result)
            manifest = _manifests.get(key)
            runner = dbtRunner(manifest=_fresh(manifest) if manifest else None, callbacks=[events.append, *callbacks])
            outcome = runner.invoke([*targeted, *paths])
        finally:
            dbt_logfile.flush()   # the run's last lines (a debug line waits in the file's buffer)
            _release_warehouse(connection)
            dbt_jinja.save()
            dbt_schemas.save()
    if interrupted or isinstance(outcome.exception, KeyboardInterrupt):
        raise KeyboardInterrupt   # Ctrl-C, which dbt caught: psw says "interrupted" (exit 130), not "failed"
    if outcome.success:
        _copy(target / PARSE_FILE, cached)
    result = outcome.result
    return DbtRun(outcome.success, list(getattr(result, "results", None) or []), events, outcome.exception)


@contextlib.contextmanager
def _gc_paused():
    """Python's cyclic garbage collector off while dbt runs, as it was after. A pilot build makes
    ~185k objects in reference cycles (each node's context and its ~600 macro objects refer to each
    other), bounded by the project's nodes, not the warehouse's rows. Collected as they came, they cost
    ~250 collections a build, one of them a full one that walks every object of the process (dbt's
    modules, the manifest): ~0.25-0.35 s of CPU a pilot build where the server runs one
    (`bench/bench_gc.py --pairs 64`: 4.31 -> 4.08 CPU s, 3.14 -> 2.92 s). A full parse (a new file name)
    peaks ~70 MB higher (250 -> 320 MB). What the run leaves is collected by the process's next
    collection, or never in a process that exits after it (psw.server.collector_off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def _noting_ctrl_c():
    """A list that holds True once Ctrl-C came while dbt ran. dbt catches the KeyboardInterrupt and
    cancels its queries; what it then reports can be another error (DuckDB's "connection is busy"
    from a cancelled thread), which is no reason to tell the user a build failed."""
    import signal
    import threading

    noted: list[bool] = []
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield noted   # only the main thread sets handlers; a caller's own handler is left alone
        return

    def note(signum, frame):
        noted.append(True)
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, note)
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def parse_cache(db: Path, args: list[str]) -> Path:
    """Where the partial parse of builds like this one is kept: per file name, and per vars
    (a parse with other vars is another parse: `psw build --unit-tests` sets one)."""
    # and per project folder: a partial parse holds its files' paths (a moved checkout parses again)
    shaping = json.dumps([str(DBT_DIR.resolve()), _shaping(args)])
    return PARSE_CACHE / f"{db.name}.{hashlib.sha256(shaping.encode()).hexdigest()[:12]}.msgpack"


def _manifest_file(db: Path, args: list[str]) -> Path:
    """The pickled manifest of builds like this one: one file per file name and vars, as parse_cache."""
    cached = parse_cache(db, args)
    return cached.with_name(cached.name.removesuffix(".msgpack") + ".manifest.pickle")


def _pickle_key(key: tuple) -> str:
    """What a kept manifest must have been parsed under: the key, and the versions of Python and of
    dbt's packages (a pickle holds their classes; the adapter's macros are parsed into it)."""
    return repr((key, *stamp(PICKLE_FORMAT, *DBT_PACKAGES)))


def _load_manifest(db: Path, args: list[str], key: tuple):
    """The manifest kept by an earlier process under this key; None if there is none, it was parsed
    under another key (the file holds the last one), or it cannot be read. The file is psw's own
    cache in dbt's git-ignored target folder, written only by _save_manifest."""
    try:
        with _manifest_file(db, args).open("rb") as handle:
            kept_key, manifest = pickle.load(handle)
    except Exception:  # noqa: BLE001 (absent, partly written by a killed process, another version's classes)
        return None
    return manifest if kept_key == _pickle_key(key) else None


def _save_manifest(db: Path, args: list[str], key: tuple, manifest) -> None:
    """Best effort (it is a cache): a manifest that does not pickle is parsed again next time."""
    buffer = io.BytesIO()
    try:
        _ManifestPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump((_pickle_key(key), manifest))
    except Exception:  # noqa: BLE001 (an object of dbt's that does not pickle)
        return
    write_whole(_manifest_file(db, args), buffer.getvalue())


class _ManifestPickler(pickle.Pickler):
    """Pickles a dbt Manifest by its named fields. dbt's own Manifest.__reduce_ex__ lists them by
    position and skips two (dbt-core 1.11): every lookup after `fixtures` lands one field off, and a
    build from such a manifest fails on its first ref ("RefableLookup.find() missing 1 required
    positional argument"). The lookups and caches (the fields named with `_`) are rebuilt on use."""

    def reducer_override(self, obj):
        from dbt.contracts.graph.manifest import Manifest

        if type(obj) is Manifest:
            public = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if not f.name.startswith("_")}
            return _manifest_from_fields, (public,)
        return NotImplemented


def _manifest_from_fields(public: dict):
    from dbt.contracts.graph.manifest import Manifest

    return Manifest(**public)


def _fresh(manifest):
    """A kept manifest, as a parse leaves it: a run compiles nodes in place and marks their
    ephemeral CTEs injected, which the next run would otherwise take as done."""
    for node in manifest.nodes.values():
        if "extra_ctes_injected" in getattr(node, "__dataclass_fields__", {}):  # compiled kinds, not seeds
            node.extra_ctes_injected, node.extra_ctes, node.compiled, node.compiled_code = False, [], False, None
    return manifest


def profile_target(db: Path) -> str:
    """dbt/profiles.yml's output for `db`: `local` attaches it with psw's row group size under its
    catalog name, which dbt-duckdb writes unquoted; a name that needs quoting gets `plain`."""
    name = catalog_name(db)
    plain = not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name.lower() in _keywords()
    return "plain" if plain else "local"


@functools.cache
def _keywords() -> frozenset[str]:
    """DuckDB's keywords that an unquoted name cannot be."""
    import duckdb

    with duckdb.connect() as con:
        return frozenset(w for (w,) in con.execute(
            "select keyword_name from duckdb_keywords() where keyword_category <> 'unreserved'").fetchall())


def _shaping(args: list[str]) -> list[str]:
    """The arguments (and their values) among `args` that change what dbt parses."""
    out = []
    for i, arg in enumerate(args):
        if arg in _PARSE_ARGS and i + 1 < len(args):
            out += [arg, args[i + 1]]
        elif arg.split("=")[0] in _PARSE_ARGS and "=" in arg:
            out.append(arg)
    return out


def manifest_of(db: Path, args: list[str]):
    """The manifest this process kept for runs of `args` on `db` (None when it keeps none)."""
    return _manifests.get(_manifest_key(db.resolve(), [a for a in args if a != "--"]))


def _manifest_key(db: Path, args: list[str]) -> tuple:
    """What a parse depends on. The project's folder too: a manifest holds its files' paths, so a
    checkout that was moved (its target folder with it) parses again."""
    shaping = tuple(_shaping(args))
    settings = tuple(build_state.dbt_settings())
    return db.name, str(DBT_DIR.resolve()), memory_limit(), shaping, settings, build_state.project_hash()


@contextlib.contextmanager
def _dbt_setting(db: Path):
    """dbt's working folder and environment for one run, put back afterwards."""
    setting = {"PSW_DB_PATH": db.name, "PSW_MEMORY_LIMIT": memory_limit(), **build_state.RUN_ENV}
    saved_env, saved_cwd = {name: os.environ.get(name) for name in setting}, os.getcwd()
    os.environ.update(setting)
    os.chdir(db.parent)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _names_target(args: list[str]) -> bool:
    return any(a in ("--target", "-t") or a.startswith("--target=") for a in args)


def takes_connection(db: Path, args: list[str]) -> bool:
    """Whether a run of `args` on `db` runs on a connection its caller hands to `invoke` (`_handed`):
    where dbt would open the file as warehouse.db.connect opens it, the profile's `local` target.
    Where it does not, the caller closes its connection first: one process cannot open the file twice."""
    return not _names_target(args) and profile_target(db) == "local"


@contextlib.contextmanager
def _handed(connection):
    """dbt-duckdb opens the warehouse with `connection` (when given) instead of a DuckDB of its own.

    `psw build` reads the raw tables and writes its state before dbt runs and after: three openings
    of the file a build (dbt's own, and psw's before and after it), each reading the catalog and each
    close checkpointing, ~0.17 s of a build that adds a run to 1M pairs. Handed psw's connection, dbt
    runs on the same DuckDB, and the file is checkpointed once, when psw closes it. The connection is
    made as the profile's `local` target makes dbt-duckdb's (dbt/profiles.yml): an in-memory catalog
    with the file attached under its catalog name at psw's row group size, the same memory cap and
    spill folder; what the profile gives beyond that is set here (its checkpoint threshold), and the
    default catalog is the in-memory one, as in a connection dbt-duckdb opens. Callers hand it only
    for that target (`takes_connection`; warehouse.db._attach opens it so). And no other process can
    take the file's lock between psw's checks and dbt's run, or between the run and its state."""
    if connection is None:
        yield
        return
    from dbt.adapters.duckdb.environments import Environment

    connection.execute(f"set checkpoint_threshold = {sql_literal(_profile_setting('checkpoint_threshold'))}")
    catalog = connection.execute("select current_database()").fetchone()[0]
    connection.execute("use memory")
    own = Environment.__dict__["initialize_db"]
    Environment.initialize_db = classmethod(lambda cls, creds, plugins=None: connection)
    try:
        yield
    finally:
        Environment.initialize_db = own
        with contextlib.suppress(Exception):   # a connection closed under dbt stays closed
            connection.execute(f"use {sql_identifier(catalog)}")
            connection.execute("reset checkpoint_threshold")


@functools.cache
def _profile_setting(name: str) -> str:
    """A DuckDB setting the profile's `local` target gives as it is (no Jinja), from dbt/profiles.yml."""
    import yaml

    profile = yaml.safe_load((DBT_DIR / "profiles.yml").read_text())
    return str(profile["psw"]["outputs"]["local"]["config_options"][name])


def _release_warehouse(handed=None) -> None:
    """Close the DuckDB file dbt-duckdb keeps open between runs in one process (a connection the
    caller handed to dbt stays open: it is the caller's to close)."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    env = DuckDBConnectionManager._ENV
    if env is not None and handed is not None and getattr(env, "conn", None) is handed:
        env.conn = None
    if env is not None:
        with contextlib.suppress(Exception):
            env.close()
    DuckDBConnectionManager.close_all_connections()


def _copy(source: Path, dest: Path) -> None:
    """`dest` becomes a copy of `source`, or is removed if there is no `source`. Best effort (it is a
    cache): written whole under a temporary name, then renamed."""
    try:
        data = source.read_bytes()
    except OSError:
        with contextlib.suppress(OSError):
            dest.unlink()
        return
    write_whole(dest, data)
