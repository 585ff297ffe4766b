"""Load one input file into the raw schema: whole or not at all.

A file is checked completely before anything is written. If any record is
malformed, nothing from the file is loaded; its rejects (file, line, reason)
go to raw.rejects and the caller exits non-zero. A file whose content was
loaded before (same bytes, kind and measurement) adds nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from hashlib import sha256
from pathlib import Path

import duckdb
import pyarrow as pa

from ingest import artifact, read
from ingest.checks import extract_sql, reasons_sql
from ingest.read import Reject
from warehouse.schema import ensure_raw_schema
from warehouse.errors import UserError

MEASURED_KINDS = ("examples", "artifact")
MAX_FAST_LINE_BYTES = 16 << 20  # DuckDB's line reader allocates buffers of this size


@dataclass
class MeasurementMeta:
    generator_model: str | None = None
    judge_models: list[str] = field(default_factory=list)
    temperature: float | None = None
    seed: int | None = None


@dataclass
class LoadReport:
    path: Path
    kind: str
    measurement_id: str | None
    n_records: int = 0
    n_new: int = 0
    already_loaded: bool = False
    rejects: list[Reject] = field(default_factory=list)

    def summary(self) -> str:
        where = f" into measurement {self.measurement_id}" if self.measurement_id else ""
        if self.already_loaded:
            return f"{self.path}: already loaded ({self.kind}{where}); nothing added"
        return f"{self.path}: loaded {self.n_records} {self.kind} records ({self.n_new} new){where}"


def default_measurement(path: Path) -> str:
    stem = re.sub(r"_examples$", "", path.stem)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)


def ingest_file(con: duckdb.DuckDBPyConnection, path: Path, kind: str | None = None,
                measurement_id: str | None = None, meta: MeasurementMeta | None = None) -> LoadReport:
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    ensure_raw_schema(con)
    scan = read.scan(path)
    if scan.first_line is None:
        raise UserError(f"{path}:1: empty file; nothing loaded")
    kind = kind or read.detect_kind(scan)
    if kind is None:
        raise UserError(f"{path}:1: not a known kind of input (persona pairs, templates, scenarios, "
                        f"examples or run artifact); pass --kind to say which")
    if kind in MEASURED_KINDS:
        measurement_id = measurement_id or default_measurement(path)
    else:
        measurement_id = None
    load_id = sha256(f"{scan.sha256}\0{kind}\0{measurement_id or ''}".encode()).hexdigest()
    report = LoadReport(path, kind, measurement_id)
    if con.execute("select 1 from raw.loads where load_id = ?", [load_id]).fetchone():
        report.already_loaded = True
        return report
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
    if kind == "artifact":
        _load_artifact(con, scan, report, load_id, loaded_at, meta or MeasurementMeta())
    else:
        _load_lines(con, scan, report, load_id, loaded_at, meta or MeasurementMeta())
    if report.rejects:
        _record_rejects(con, report, load_id, loaded_at)
    return report


def _fast_lines(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Temp table _lines(line_no, line): every non-blank line, numbered as in the file.

    DuckDB reads the file itself, in order, with blank lines kept as rows so that the
    numbers hold; far faster than Python. It refuses bad UTF-8, a stray carriage return
    or a line longer than its buffer (duckdb.Error); then _slow_lines takes over.
    (Streaming the file twice instead of holding the lines was slower, even at 1M pairs
    where the table spills to disk.)
    """
    con.execute("""
        create or replace temp table _lines as
        select line_no, line
        from (select (row_number() over ())::integer as line_no, line
              from read_csv(?, columns = {'line': 'VARCHAR'}, header = false, delim = chr(1), quote = '',
                            escape = '', auto_detect = false, max_line_size = ?))
        where regexp_matches(line, '\\S')""", [str(path), MAX_FAST_LINE_BYTES])


def _slow_lines(con: duckdb.DuckDBPyConnection, path: Path) -> list[Reject]:
    """Temp table _lines read here, line by line; each undecodable line is a reject."""
    rejects = read.bad_utf8_lines(path)
    con.execute("create or replace temp table _lines (line_no integer, line varchar)")
    for batch in read.line_batches(path, {r.line_no for r in rejects}):
        con.register("_batch", batch)
        con.execute("insert into _lines select line_no, line from _batch")
        con.unregister("_batch")
    return rejects


def _check_records(con: duckdb.DuckDBPyConnection, report: LoadReport) -> None:
    """Temp table _records(line_no, record_id, invalid_json, reasons): one pass over the lines.

    A record's key is the md5 of its text (for examples, with the measurement id first).
    """
    if report.kind == "templates":
        con.execute("""
            create or replace temp table _records as
            select line_no, md5(trim(line)) as record_id, false as invalid_json,
                   case when position('{persona}' in line) = 0 then ['template has no {persona} slot']
                        else []::varchar[] end as reasons
            from _lines where not starts_with(trim(line), '#')""")
        return
    # each line parsed once (try(): NULL where the JSON is malformed); the checks run on the
    # parsed fields; only the key, the line number and the reasons are kept
    con.execute(f"""
        create or replace temp table _records as
        select line_no, record_id, invalid_json,
               case when invalid_json then []::varchar[] else {reasons_sql(report.kind)} end as reasons
        from (select line_no, md5(? || record) as record_id,
                     t is null or not starts_with(ltrim(record), '{{') as invalid_json, t, s
              from (select line_no, line as record, {extract_sql(report.kind)} from _lines))""",
                [report.measurement_id or ""])


def _load_lines(con, scan, report, load_id, loaded_at, meta) -> None:
    bad_bytes: list[Reject] = []
    try:
        _fast_lines(con, scan.path)
    except duckdb.Error:
        bad_bytes = _slow_lines(con, scan.path)
    report.rejects.extend(bad_bytes)
    _check_records(con, report)
    _reject_invalid_json(con, report)
    if _any_record(con, "len(reasons) > 0"):
        for line_no, reasons, excerpt in con.execute(
                "select line_no, reasons, left(_lines.line, 200) from _records join _lines using (line_no) "
                "where len(reasons) > 0 order by line_no").fetchall():
            report.rejects.append(Reject(line_no, reasons[0], excerpt))
    report.rejects.sort(key=lambda r: r.line_no or 0)
    report.n_records = con.execute("select count(*) from _records").fetchone()[0] + len(bad_bytes)
    if report.rejects:
        return
    with _transaction(con):
        report.n_new = _insert_records(con, report, load_id, loaded_at)
        if report.kind == "examples":
            v3 = '"axis_judgments"' in scan.first_line or '"eval_id"' in scan.first_line
            _insert_measurement(con, report.measurement_id, load_id, meta,
                                "examples_v3" if v3 else "examples_v2", {"source_path": str(scan.path)}, loaded_at)
        _insert_load(con, load_id, scan, report, loaded_at)


def _any_record(con, condition: str) -> bool:
    """Asked before listing failures: most files have none, and the listing joins the lines."""
    return con.execute(f"select count(*) from _records where {condition}").fetchone()[0] > 0


def _reject_invalid_json(con, report: LoadReport) -> None:
    """Lines DuckDB could not parse as a JSON object: Python names the problem and column."""
    if not _any_record(con, "invalid_json"):
        return
    for line_no, line in con.execute("select line_no, line from _records join _lines using (line_no) "
                                     "where invalid_json order by line_no").fetchall():
        try:
            json.loads(line)
            reason = "expected a JSON object on this line"
        except json.JSONDecodeError as exc:
            reason = f"invalid JSON: {exc.msg} at column {exc.colno} (truncated or malformed line)"
        report.rejects.append(Reject(line_no, reason, line[:200]))


# The same record in a later file, or twice in one file, is stored once (its first line).
_INSERTS = {
    "pairs": "insert into raw.persona_pairs select record_id, ?, line_no, line::json ->> 'id', line::json, ? from _new",
    "scenarios": "insert into raw.scenarios select record_id, ?, line_no, line::json ->> 'id', line::json, ? from _new",
    "templates": "insert into raw.templates select record_id, ?, line_no, trim(line), ? from _new",
    "examples": "insert into raw.exported_pairs select record_id, ?, ?, line_no, line::json, ? from _new",
}
_RAW_TABLE = {"pairs": "raw.persona_pairs", "scenarios": "raw.scenarios", "templates": "raw.templates",
              "examples": "raw.exported_pairs"}


def _insert_records(con, report: LoadReport, load_id: str, loaded_at) -> int:
    con.execute(f"""
        create or replace temp table _first as
        select record_id, min(line_no) as line_no from _records
        where record_id not in (select record_id from {_RAW_TABLE[report.kind]})
        group by record_id""")
    con.execute("""
        create or replace temp view _new as
        select _first.record_id, _lines.line_no, _lines.line
        from _lines join _first using (line_no)""")
    if report.kind == "examples":
        params = [load_id, report.measurement_id, loaded_at]
    else:
        params = [load_id, loaded_at]
    return con.execute(_INSERTS[report.kind], params).fetchone()[0]


def _insert_load(con, load_id, scan, report, loaded_at) -> None:
    con.execute("insert into raw.loads values (?, ?, ?, ?, ?, ?, ?)",
                [load_id, scan.sha256, report.kind, str(scan.path), report.measurement_id,
                 report.n_records, loaded_at])


def _insert_measurement(con, measurement_id, load_id, meta: MeasurementMeta, source_format, params, loaded_at,
                        run: dict | None = None) -> None:
    run = run or {}
    con.execute("insert into raw.measurements values (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        measurement_id, load_id,
        meta.generator_model or run.get("generator_model"),
        meta.judge_models or run.get("judge_models") or None,
        meta.temperature if meta.temperature is not None else run.get("temperature"),
        meta.seed if meta.seed is not None else run.get("seed"),
        source_format, json.dumps({**params, **run.get("params", {})}, default=str), loaded_at])


def _load_artifact(con, scan, report, load_id, loaded_at, meta) -> None:
    report.rejects.extend(read.bad_utf8_lines(scan.path))
    if report.rejects:
        return
    doc, problem = artifact.load_document(scan.path)
    if problem:
        report.rejects.append(problem)
        return
    pairs, judgments, rejects = artifact.rows(doc, report.measurement_id, load_id, loaded_at)
    report.rejects.extend(rejects)
    report.n_records = len(doc["results"])
    if report.rejects:
        return
    with _transaction(con):
        report.n_new = _insert_rows(con, "raw.pairs", "pair_id", pairs)
        _insert_rows(con, "raw.judgments", "judgment_id", judgments)
        _insert_measurement(con, report.measurement_id, load_id, meta, "artifact",
                            {"source_path": str(scan.path)}, loaded_at, artifact.run_metadata(doc))
        _insert_load(con, load_id, scan, report, loaded_at)


def _insert_rows(con, table: str, key: str, rows: list[dict]) -> int:
    if not rows:
        return 0
    columns = [c[0] for c in con.execute(f"select * from {table} limit 0").description]
    batch = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
    con.register("_rows", batch)
    try:
        casts = ", ".join(f"{c}::json as {c}" if c in ("output", "extra") else c for c in columns)
        return con.execute(f"insert into {table} select {casts} from _rows anti join {table} using ({key})"
                           ).fetchone()[0]
    finally:
        con.unregister("_rows")


def _record_rejects(con, report: LoadReport, load_id: str, rejected_at) -> None:
    with _transaction(con):
        con.executemany(
            "insert into raw.rejects select ?, ?, ?, ?, ?, ? where not exists "
            "(select 1 from raw.rejects where load_id = ? and line_no is not distinct from ? and reason = ?)",
            [[load_id, str(report.path), r.line_no, r.reason, r.excerpt, rejected_at, load_id, r.line_no, r.reason]
             for r in report.rejects])


class _transaction:
    def __init__(self, con):
        self.con = con

    def __enter__(self):
        self.con.begin()

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.con.commit()
        else:
            self.con.rollback()
        return False
