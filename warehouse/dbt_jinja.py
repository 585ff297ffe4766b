"""dbt's Jinja templates compiled once, not once per process (and per build).

dbt renders every macro and model through Jinja, and Jinja turns each template's text into
Python code (parse, generate, `compile()`) before it renders it: dbt keeps a macro's template
for the rest of its process, a model's SQL not at all. In a fresh `psw build` of the pilot
that compiling was ~11% of the build's CPU (py-spy, 2026-12-03), and the same few hundred
texts are compiled again by every process.

`install()` puts a memo in front of dbt's Jinja environments' `compile`: the code object of a
text is kept under everything that shapes it (the environment's class, extensions and syntax
settings; the text; its name and file name), for the rest of the process and, marshalled, in
`KEPT_FILE` for later processes (`save()`, after each dbt run that compiled something new).
Rendering is untouched: a kept code object is the one Jinja made from the same text under the
same settings, and every render still runs it with its own context. A text that does not
compile (a syntax error) is never kept: dbt reports it as before. The file is a cache in dbt's
git-ignored target folder (like the kept manifest): a missing, stale or unreadable one means
compiling again; it holds the texts of the last MAX_KEPT compiles, newest first.
"""

from __future__ import annotations

import marshal
import threading
from types import CodeType

from warehouse.db import DBT_DIR
from warehouse.kept_file import file_state, stamp, write_whole

KEPT_FILE = DBT_DIR / "target" / "jinja-code.marshal"
MAX_KEPT = 2000  # texts; a pilot build compiles ~230 (macros, models), with unit tests and docs ~600 (~2 MB)
FORMAT = 1
# the Environment settings that change the code Jinja generates from one text
_SETTINGS = ("block_start_string", "block_end_string", "variable_start_string", "variable_end_string",
             "comment_start_string", "comment_end_string", "line_statement_prefix", "line_comment_prefix",
             "trim_blocks", "lstrip_blocks", "newline_sequence", "keep_trailing_newline", "optimized",
             "is_async")

_kept: dict[tuple, CodeType] = {}   # oldest first; a used one moves to the end
_lock = threading.Lock()
_state = {"loaded": False, "new": 0, "read": None}   # read: KEPT_FILE's file_state when last read


def install() -> None:
    """Keep compiled templates for dbt's Jinja environments in this process (once per process)."""
    from dbt_common.clients import jinja as dbt_jinja

    environment = dbt_jinja.MacroFuzzEnvironment   # the native one is a subclass
    if getattr(environment.compile, "_psw_kept", False):
        return
    original = environment.compile

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
        if raw or not isinstance(source, str) or dbt_jinja.MACRO_DEBUGGING:
            return original(self, source, name, filename, raw, defer_init)
        key = (_shape(self), source, name, filename, defer_init)
        with _lock:
            _load_once()
            code = _kept.pop(key, None)
            if code is not None:
                _kept[key] = code
                return code
        code = original(self, source, name, filename, raw, defer_init)   # raises on a syntax error
        with _lock:
            _kept[key] = code
            _state["new"] += 1
        return code

    compile._psw_kept = True
    environment.compile = compile


def _shape(environment) -> tuple:
    extensions = tuple(sorted(f"{type(ext).__module__}.{type(ext).__qualname__}"
                              for ext in environment.extensions.values()))
    return (f"{type(environment).__module__}.{type(environment).__qualname__}", extensions,
            tuple(getattr(environment, name, None) for name in _SETTINGS),
            environment.finalize is not None, callable(environment.autoescape) or bool(environment.autoescape))


def _header() -> str:
    """What a kept code object was compiled under: Python's bytecode and the Jinja that generated it."""
    from importlib.util import MAGIC_NUMBER

    return repr((*stamp(FORMAT, "jinja2", "dbt-common"), MAGIC_NUMBER))


def _load_once() -> None:
    if _state["loaded"]:
        return
    _state["loaded"] = True
    _read()


def refresh() -> None:
    """Read KEPT_FILE again if another process wrote it since this one read it (or found none): psw's
    resident server, before each command it forks, so a command starts with what the ones before it
    compiled (psw/server.py). Without it a server that started before its checkout had compiled
    anything (a fresh clone) gave every build its empty memory: each compiled ~230 texts again
    (~1.1 s a served pilot build, bench/bench_ab.py)."""
    with _lock:
        if _state["loaded"] and file_state(KEPT_FILE) != _state["read"]:
            _read()


def _read() -> None:
    """Add what KEPT_FILE holds to what this process keeps (its own newer compiles stay)."""
    _state["read"] = file_state(KEPT_FILE)
    try:
        with KEPT_FILE.open("rb") as handle:
            header, kept = marshal.load(handle)
    except Exception:  # noqa: BLE001 (absent, written by another Python, cut short by a killed process)
        return
    if header == _header() and isinstance(kept, list):
        for key, code in reversed(kept):   # kept newest first
            _kept.setdefault(key, code)


def save() -> None:
    """Write the kept code objects for later processes if this one compiled any new text."""
    with _lock:
        if not _state["new"]:
            return
        newest = [(key, code) for key, code in reversed(_kept.items())][:MAX_KEPT]
        _state["new"] = 0
    try:
        data = marshal.dumps((_header(), newest))
    except ValueError:   # a code object marshal refuses: compiled again next time
        return
    write_whole(KEPT_FILE, data)
