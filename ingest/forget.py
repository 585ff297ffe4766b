"""Remove what one load (or every load of a measurement) put into the raw schema.

raw is append-only for data, but a user must be able to take a bad load back: the rows it
added go, its raw.loads row stays with `forgotten_at` set, and raw.forgets records what was
removed and when. The next `psw build` recomputes what those rows fed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb

from ingest.typed import ensure_current
from warehouse.append import transaction
from warehouse.errors import UserError

# raw tables whose rows name the load that wrote them
LOADED_TABLES = ("persona_pairs", "templates", "template_catalog", "scenarios", "exported_pairs", "pairs", "judgments", "measurements",
                 "published_stats", "adaptive_decisions", "selections")
# raw.api_calls is the HTTP cache: a collected call stays when its run is forgotten (a later run
# reuses what was paid for). The calls read from an Inspect log (ingest/inspect_log.py, keyed
# `inspect:...`) are that load's provenance only, no request can hit them: they go with the load.
LOADED_CALLS = "delete from raw.api_calls where load_id = ? and starts_with(cache_key, 'inspect:')"


@dataclass
class Forgotten:
    load_id: str
    source_path: str
    n_rows: int


def forget_load(con: duckdb.DuckDBPyConnection, load_ref: str) -> list[Forgotten]:
    """Forget the load whose id is `load_ref` or starts with it (as `psw forget` and ingest print it)."""
    ensure_current(con)
    matches = con.execute("select load_id from raw.loads where starts_with(load_id, ?) and forgotten_at is null",
                          [load_ref]).fetchall()
    if not matches:
        raise UserError(f"--load {load_ref}: no such load (see: psw sql \"select load_id, source_path from raw.loads\")")
    if len(matches) > 1:
        raise UserError(f"--load {load_ref}: {len(matches)} loads start with this; give more of the id")
    return _forget(con, [matches[0][0]])


def forget_measurement(con: duckdb.DuckDBPyConnection, measurement_id: str) -> list[Forgotten]:
    """Forget every load of a measurement (its pairs, judgments and metadata)."""
    ensure_current(con)
    loads = [r[0] for r in con.execute(
        "select load_id from raw.loads where measurement_id = ? and forgotten_at is null "
        "union select load_id from raw.measurements where measurement_id = ?", [measurement_id, measurement_id]
    ).fetchall()]
    if not loads:
        raise UserError(f"--measurement {measurement_id}: no such measurement "
                        f"(see: psw sql \"select measurement_id from measurements\")")
    return _forget(con, loads)


def _forget(con, load_ids: list[str]) -> list[Forgotten]:
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    done = []
    with transaction(con):
        for load_id in load_ids:
            n_rows = 0
            for table in LOADED_TABLES:
                n_rows += con.execute(f"delete from raw.{table} where load_id = ?", [load_id]).fetchone()[0]
            n_rows += con.execute(LOADED_CALLS, [load_id]).fetchone()[0]
            info = con.execute("select source_path, kind, measurement_id, loaded_at from raw.loads where load_id = ?",
                               [load_id]).fetchone() or (None, None, None, None)
            con.execute("update raw.loads set forgotten_at = ? where load_id = ?", [now, load_id])
            con.execute("insert into raw.forgets values (?, ?, ?, ?, ?, ?, ?)", [load_id, *info, n_rows, now])
            done.append(Forgotten(load_id, info[0] or "(collected run)", n_rows))
    return done
