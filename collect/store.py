"""Warehouse writes for collect: raw.pairs, raw.judgments, raw.api_calls, loads, measurements.

Rows are buffered for at most `flush_interval` seconds (or `flush_rows` rows) and
written in one Arrow batch per table: single-row DuckDB inserts manage only a few
hundred rows a second, a batch tens of thousands. Every insert skips the keys the
table already holds (an anti join on its content key), so a re-run never duplicates.
A hard kill loses at most the rows of the last `flush_interval`; those calls are
simply made again on resume. Every value passes warehouse.secrets.redact on its way in:
no API key or bearer token is ever written, whatever a server sent back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading

import duckdb
import pyarrow as pa

from collect.client import normalise_base_url, strip_url_credentials
from warehouse import secrets
from warehouse.append import append, transaction
from warehouse.schema import ensure_raw_schema


_COLUMNS = {
    "raw.pairs": ["pair_id", "load_id", "measurement_id", "template_text", "persona_pair_id",
                  "pos_persona", "neg_persona", "scenario_id", "scenario_text", "sample_idx",
                  "pos_label", "pos_prompt", "neg_prompt", "pos_response", "neg_response",
                  "generator_model", "error", "extra", "loaded_at", "source_run", "row_idx",
                  "pos_messages", "neg_messages", "prompt_set",
                  # the anchored protocol's baseline (columns of a schema that has them; append
                  # inserts the columns the table holds)
                  "base_prompt", "base_response"],
    "raw.judgments": ["judgment_id", "pair_id", "measurement_id", "load_id", "judge_model",
                      "criterion", "prompt_hash", "pos_label", "output", "raw_text", "error",
                      "loaded_at"],
    "raw.api_calls": ["cache_key", "base_url", "model", "request", "response", "content",
                      "finish_reason", "prompt_tokens", "completion_tokens", "cost", "attempts",
                      "latency_s", "measurement_id", "load_id", "created_at", "pair_id", "purpose"],
}
_JSON_COLS = {"extra", "output", "request", "response", "pos_messages", "neg_messages"}
# columns that can be all-null in a batch, typed so Arrow does not infer `null`
_TYPES = {"cost": pa.float64(), "source_run": pa.string(), "row_idx": pa.int32(),
          "error": pa.string(), "raw_text": pa.string(), "pair_id": pa.string(),
          "purpose": pa.string(), "pos_response": pa.string(), "neg_response": pa.string(),
          "finish_reason": pa.string(), "base_prompt": pa.string(), "base_response": pa.string()}
# a pair generated again (`--retry-errors` after a generation error) is a new row of the new load;
# stg_raw__pairs keeps the newest successful row of each pair_id
_KEY = {"raw.pairs": ("pair_id", "load_id"), "raw.judgments": "judgment_id", "raw.api_calls": "cache_key"}
# order of writes inside one flush: the cache first, so a paid answer is never lost to a
# failure further down
_ORDER = ["raw.api_calls", "raw.pairs", "raw.judgments"]


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Store:
    def __init__(self, con: duckdb.DuckDBPyConnection, *, flush_interval: float = 0.2,
                 flush_rows: int = 500):
        self.con = con
        self.flush_interval = flush_interval
        self.flush_rows = flush_rows
        self._buf: dict[str, list[dict]] = {t: [] for t in _COLUMNS}
        self._lock = threading.Lock()       # one flush at a time
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._wake: asyncio.Event | None = None
        self.rows_written = {t: 0 for t in _COLUMNS}
        ensure_raw_schema(con)
        # the first Arrow scan imports pandas & co (~0.5 s): pay it now, not at the first flush
        warm = pa.table({"x": [1]})  # noqa: F841
        con.execute("select count(*) from warm").fetchall()

    # -------------------------------------------------------------- reads (once, at start)
    def load_cache(self, base_url: str, models: list[str], reasoning_models: tuple[str, ...] = ()) -> dict:
        """cache key -> (content, finish_reason), plus the reasoning the answer carried for
        `reasoning_models` (bounded-thinking judges continue a conversation from it)."""
        rows = self.con.execute(
            "select cache_key, content, finish_reason, case when list_contains(?, model) then coalesce("
            "json_extract_string(response, '$.choices[0].message.reasoning'), "
            "json_extract_string(response, '$.choices[0].message.reasoning_content')) end from raw.api_calls "
            "where list_contains(?, base_url) and list_contains(?, model)",
            [list(reasoning_models), [normalise_base_url(base_url), strip_url_credentials(base_url)],
             list(models)]).fetchall()
        return {k: (c, f) if not r else (c, f, r) for k, c, f, r in rows}

    def existing_pairs(self, measurement_ids: list[str]) -> dict:
        rows = self.con.execute(
            "select pair_id, pos_response, neg_response, error from raw.pairs "
            "where list_contains(?, measurement_id) "
            "qualify row_number() over (partition by pair_id order by error is null desc, loaded_at desc) = 1",
            [list(measurement_ids)]).fetchall()
        return {p: (pr, nr, e) for p, pr, nr, e in rows}

    def done_judgments(self, measurement_ids: list[str], include_errors: bool = True) -> set:
        sql = ("select distinct pair_id, judge_model, criterion, prompt_hash from raw.judgments "
               "where list_contains(?, measurement_id)")
        if not include_errors:
            sql += " and error is null"
        return {tuple(r) for r in self.con.execute(sql, [list(measurement_ids)]).fetchall()}

    # -------------------------------------------------------------- one-off rows
    def record_load(self, load_id: str, source_path: str, measurement_id: str, n_records: int):
        self.con.execute("insert into raw.loads (load_id, kind, source_path, measurement_id, "
                         "n_records, loaded_at) values (?, 'collect', ?, ?, ?, ?) "
                         "on conflict do nothing",
                         [load_id, source_path, measurement_id, n_records, now()])

    def record_measurement(self, measurement_id: str, load_id: str, generator: str,
                           judges: list[str], temperature: float, seed: int, params: dict) -> bool:
        """One row per distinct parameter set of a measurement (a plain re-run adds none)."""
        params_json = json.dumps(secrets.redact_value(params), sort_keys=True)
        exists = self.con.execute(
            "select count(*) from raw.measurements where measurement_id = ? "
            "and source_format = 'collect' and params::varchar = ?::json::varchar",
            [measurement_id, params_json]).fetchone()[0]
        if exists:
            return False
        append(self.con, "raw.measurements", [{
            "measurement_id": measurement_id, "load_id": load_id, "generator_model": generator,
            "judge_models": list(judges), "temperature": float(temperature), "seed": seed,
            "source_format": "collect", "params": params_json, "recorded_at": now()}], ["measurement_id", "load_id"])
        return True

    def api_call_sink(self, plan, load_id: str):
        """`on_response` for a ChatClient: each paid answer, tagged with its measurement and load."""
        measurement_of = {item.pair_id: item.measurement_id for item in plan}

        def on_response(row: dict) -> None:
            row.update(measurement_id=measurement_of.get(row.get("pair_id")), load_id=load_id, created_at=now())
            self.add("raw.api_calls", row)
        return on_response

    # -------------------------------------------------------------- buffered rows
    def add(self, table: str, row: dict) -> None:
        buf = self._buf[table]
        buf.append(row)
        if len(buf) >= self.flush_rows and self._wake is not None:
            self._wake.set()

    def _take(self) -> dict[str, list[dict]]:
        """Swap the buffers out (on the event-loop thread, so no add() can slip between)."""
        batches, self._buf = self._buf, {t: [] for t in _COLUMNS}
        return batches

    def _write(self, batches: dict[str, list[dict]]) -> None:
        with self._lock:
            for table in _ORDER:
                if batches[table]:
                    self._insert(table, batches[table])

    def flush(self) -> None:
        self._write(self._take())

    def _insert(self, table: str, rows: list[dict]) -> None:
        data = {}
        for c in _COLUMNS[table]:
            vals = [r.get(c) for r in rows]
            if c not in ("loaded_at", "created_at"):
                vals = [secrets.redact_value(v) for v in vals]
            if c in _JSON_COLS:
                vals = [None if v is None else (v if isinstance(v, str) else json.dumps(v))
                        for v in vals]
                data[c] = pa.array(vals, type=pa.string())
            elif c in ("loaded_at", "created_at"):
                data[c] = pa.array(vals, type=pa.timestamp("us"))
            elif c in _TYPES:
                data[c] = pa.array(vals, type=_TYPES[c])
            else:
                data[c] = pa.array(vals)
        with transaction(self.con):
            self.rows_written[table] += append(self.con, table, pa.table(data), _KEY[table])

    async def _flusher(self) -> None:
        # Stops on a flag, not by cancellation: on Python < 3.12, asyncio.wait_for can
        # swallow a cancel that races with the event being set, and the loop never ends.
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            if any(self._buf.values()):
                await asyncio.to_thread(self._write, self._take())

    def start(self) -> None:
        self._stopping = False
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._flusher())

    async def stop(self) -> None:
        """End the flusher and write what is left (also when the run is being cancelled)."""
        self._stopping = True
        pending = None
        if self._task is not None:
            self._wake.set()
            try:
                await self._task
            except asyncio.CancelledError as exc:   # Ctrl-C while stopping: flush anyway
                pending = exc
            except Exception as exc:                # a failed write: report it after the rest
                pending = exc
            self._task = None
        self.flush()
        if pending is not None:
            raise pending


def record_run(store: Store, plan, cfg, params: dict) -> None:
    """One load row for this invocation; one measurement row per generator (and parameter set)."""
    by_mid = {}
    for item in plan:
        by_mid.setdefault(item.measurement_id, item.generator)
    inputs = params["inputs"]
    store.record_load(cfg.load_id, f"collect {inputs['pairs']} x {inputs['templates']} x {inputs['scenarios']}",
                      next(iter(by_mid)) if len(by_mid) == 1 else None, len(plan))
    for mid, generator in by_mid.items():
        store.record_measurement(mid, cfg.load_id, generator,
                                 list(dict.fromkeys([*cfg.axis_judges, cfg.style_judge])),
                                 params["gen_params"]["temperature"], params["seed"],
                                 {**params, "generator": generator})
