"""dbt's JSON schemas of its config classes made once, not once per process.

Before a run dbt validates the project, its flags, packages and the profile's credentials against
each class's JSON schema (`dbtClassMixin.validate`), and builds each schema from the class's type
hints through mashumaro the first time a process asks: ~5% of a fresh pilot build's CPU (py-spy,
2026-12-03), the same few schemas every time.

`install()` puts a store in front of `dbtClassMixin.json_schema`: a class's schema is kept, under its
module and name, in `KEPT_FILE` (`save()`, after a dbt run that built a new one), and later processes
read it from there. Validation is untouched: the kept schema is the dict dbt built, written and read as
JSON (one that does not come back equal from JSON is never kept), and jsonschema validates against it
as before. The file is a cache in dbt's git-ignored target folder (like the kept manifest), under the
versions of Python, dbt's packages and mashumaro that built it: a missing, stale or unreadable one
means building the schemas again.
"""

from __future__ import annotations

import json
import threading

from warehouse.db import DBT_DIR
from warehouse.kept_file import file_state, stamp, write_whole

KEPT_FILE = DBT_DIR / "target" / "json-schemas.json"
FORMAT = 1
_PACKAGES = ("dbt-core", "dbt-common", "dbt-adapters", "dbt-duckdb", "mashumaro")

_kept: dict[str, dict] = {}
_lock = threading.Lock()
_state = {"loaded": False, "new": 0, "read": None}   # read: KEPT_FILE's file_state when last read


def install() -> None:
    """Keep dbt's config classes' JSON schemas across processes (once per process)."""
    from dbt_common.dataclass_schema import dbtClassMixin

    if getattr(dbtClassMixin.json_schema, "_psw_kept", False):
        return
    build = dbtClassMixin.__dict__["json_schema"].__func__   # dbt's own: lru-cached for the process

    def json_schema(cls):
        name = f"{cls.__module__}.{cls.__qualname__}"
        with _lock:
            _load_once()
            kept = _kept.get(name)
        if kept is not None:
            return kept
        schema = build(cls)
        if json.loads(json.dumps(schema)) == schema:   # what JSON cannot hold as it is stays in memory only
            with _lock:
                _kept[name] = schema
                _state["new"] += 1
        return schema

    json_schema._psw_kept = True
    dbtClassMixin.json_schema = classmethod(json_schema)


def _header() -> list:
    return stamp(FORMAT, *_PACKAGES)


def _load_once() -> None:
    if _state["loaded"]:
        return
    _state["loaded"] = True
    _read()


def refresh() -> None:
    """Read KEPT_FILE again if another process wrote it since this one read it (psw's resident server,
    before each command it forks: warehouse/dbt_jinja.py's refresh)."""
    with _lock:
        if _state["loaded"] and file_state(KEPT_FILE) != _state["read"]:
            _read()


def _read() -> None:
    """Add what KEPT_FILE holds to what this process keeps."""
    _state["read"] = file_state(KEPT_FILE)
    try:
        kept = json.loads(KEPT_FILE.read_text())
    except Exception:  # noqa: BLE001 (absent, cut short by a killed process)
        return
    if isinstance(kept, dict) and kept.get("header") == _header() and isinstance(kept.get("schemas"), dict):
        for name, schema in kept["schemas"].items():
            _kept.setdefault(name, schema)


def save() -> None:
    """Write the kept schemas for later processes if this one built any new one."""
    with _lock:
        if not _state["new"]:
            return
        text = json.dumps({"header": _header(), "schemas": _kept}, sort_keys=True)
        _state["new"] = 0
    write_whole(KEPT_FILE, text.encode())
