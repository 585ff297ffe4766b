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

from ingest import artifact, csv_stats, documents, identity, inspect_log, measurements, model_matrix, read, selections
from ingest.checks import duplicate_keys_sql, extract_sql, field_index, reasons_sql
from ingest.measurements import MeasurementMeta
from ingest.read import Reject
from ingest.typed import TABLES as TYPED_TABLES, ensure_current, extra_sql, fill_typed, typed_sql
from warehouse.append import append, transaction
from warehouse.errors import UserError
from warehouse.keys import members_sql, pair_id_sql, record_id_sql

MEASURED_KINDS = ("examples", "artifact", "stats", "inspect")
# what a published-stats row aggregates: a cell, a template, or a template across generator models
STATS_LEVEL_SQL = """case when json_exists(line, '$.persona_pair') and json_exists(line, '$.model_count')
                          then 'template_pair_model'
                          when json_exists(line, '$.persona_pair') then 'template_pair'
                          when json_exists(line, '$.model_count') or json_exists(line, '$.generator_model')
                          then 'template_model' else 'template' end"""
# The longest line DuckDB's reader takes (a longer one sends the file to Python's, line by line).
# Its buffers are twice this, and it splits a file between threads by buffer: at 16 MB a 50 MB file
# was read on one thread (0.50 s), at 1 MB on two (0.22 s). A pair's record is a few kB.
MAX_FAST_LINE_BYTES = 1 << 20
# A file this small is checked without DuckDB's common-subexpression pass (_check_records): ~400
# exported pairs, where the pass's planning (~30 ms) costs more than it saves (~6 us a line)
SMALL_FILE_BYTES = 1 << 20


@dataclass
class LoadReport:
    path: Path
    kind: str
    measurement_id: str | None
    n_records: int = 0
    n_new: int = 0
    already_loaded: bool = False
    rejects: list[Reject] = field(default_factory=list)
    duplicates: identity.Duplicates = field(default_factory=identity.Duplicates)
    notes: list[str] = field(default_factory=list)  # lines deliberately not loaded, said aloud
    load_id: str = ""
    keys: list[str] = field(default_factory=list)   # candidates: the ids (templates: texts) the file defines
    n_blank_lines: int = 0                          # blank lines skipped (counted, said in the summary)
    selection_id: str | None = None                 # kind selection: the selection's name (ingest/selections.py)
    generator_model: str | None = None              # kind stats: the generator its numbers describe, when known

    def summary(self) -> str:
        where = f" into measurement {self.measurement_id}" if self.measurement_id else ""
        where += f" as selection {self.selection_id}" if self.selection_id else ""
        where += f" (generator {self.generator_model})" if self.generator_model and self.kind == "stats" else ""
        if self.already_loaded:
            return f"{self.path}: already loaded ({self.kind}{where}); nothing added"
        blank = [f"{self.n_blank_lines} blank line(s) skipped"] if self.n_blank_lines else []
        notes = "".join(f"; {note}" for note in [*self.notes, *blank])
        return (f"{self.path}: loaded {self.n_records} {self.kind} records ({self.n_new} new){where}"
                f"{self.duplicates.note()}{notes} [load {self.load_id[:12]}]")


def default_measurement(path: Path) -> str:
    """The file name without its suffix and `_examples` (or, for published stats, `_template_stats`,
    `_template_pair_stats`), exactly as written: two files with different names never share a
    measurement by accident, and a run's stats land beside its examples."""
    return re.sub(r"_(examples|template_pair_stats|template_stats|template_model_stats|model_matrix"
                  r"|template_model_summary|template_pair_model_summary)$", "", path.stem)


def ingest_file(con: duckdb.DuckDBPyConnection, path: Path, kind: str | None = None,
                measurement_id: str | None = None, meta: MeasurementMeta | None = None) -> LoadReport:
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    ensure_current(con)
    scan = read.scan(path)
    if scan.first_line is None:
        raise UserError(f"{path}:1: empty file; nothing loaded")
    try:
        kind = kind or _document_kind(scan) or read.detect_kind(scan)
    except ValueError as exc:
        raise UserError(f"{path}:1: {exc}; nothing loaded") from None
    if kind is None:
        raise UserError(f"{path}:1: not a known kind of input (persona pairs, templates, scenarios, "
                        f"examples, run artifact or published stats); pass --kind to say which")
    if kind in MEASURED_KINDS:
        measurement_id = measurement_id or default_measurement(path)
    else:
        measurement_id = None
    selection = selections.selection_id(path) if kind == "selection" else None
    load_id = sha256(f"{scan.sha256}\0{kind}\0{measurement_id or selection or ''}".encode()).hexdigest()
    report = LoadReport(path, kind, measurement_id, load_id=load_id, selection_id=selection)
    _fresh_lines(con)  # the last file's _lines, if one was loaded on this connection
    if kind == "stats":
        report.generator_model = (meta or MeasurementMeta()).generator_model or model_matrix.stats_generator(path)
    if con.execute("select 1 from raw.loads where load_id = ? and forgotten_at is null", [load_id]).fetchone():
        report.already_loaded = True
        if kind in CANDIDATE_KEYS:
            _read_lines(con, scan)
            report.keys = _candidate_keys(con, kind)
        elif kind == "catalog":
            report.keys = documents.active_templates(documents.catalog_rows(scan.path)[0])
        return report
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
    try:
        if kind in ("artifact", "inspect"):
            _load_artifact(con, scan, report, load_id, loaded_at, meta or MeasurementMeta())
        elif kind in ("catalog", "trait"):
            _load_document(con, scan, report, load_id, loaded_at)
        elif kind == "selection" and selections.is_summary(scan):
            _load_selection_summary(con, scan, report, load_id, loaded_at)
        else:
            _load_lines(con, scan, report, load_id, loaded_at, meta or MeasurementMeta())
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise UserError(f"{path}: could not be read while loading ({exc.strerror or exc}); nothing loaded") from None
    if report.rejects:
        _record_rejects(con, report, load_id, loaded_at)
    return report


def _document_kind(scan: read.FileScan) -> str | None:
    if documents.looks_like_catalog(scan.path):
        return "catalog"
    if documents.looks_like_trait(scan.path):
        return "trait"
    if scan.path.suffix == ".eval":   # an Inspect AI log (a zip): ingest/inspect_log.py
        return "inspect"
    return None


def _load_document(con, scan, report, load_id, loaded_at) -> None:
    """A template catalog or a trait file: checked whole, then its rows land in one transaction."""
    stamp = {"load_id": load_id, "loaded_at": loaded_at}
    if report.kind == "catalog":
        rows, report.rejects = documents.catalog_rows(scan.path)
        report.keys = documents.active_templates(rows)
        tables = {"raw.template_catalog": [{**row, **stamp} for row in rows]}
    else:
        pairs, scenarios, report.rejects = documents.trait_rows(scan.path)
        tables = {"raw.persona_pairs": _candidate_rows(pairs, "persona_pair_id", stamp),
                  "raw.scenarios": _candidate_rows(scenarios, "scenario_id", stamp)}
    report.n_records = sum(len(rows) for rows in tables.values()) + len(report.rejects)
    if report.rejects:
        return
    with transaction(con):
        report.n_new = sum(append(con, table, rows, "record_id") for table, rows in tables.items())
        fill_typed(con, ("pairs", "scenarios"))  # the trait file's rows, typed as a pairs or scenarios file's
        _insert_load(con, load_id, scan, report, loaded_at)
        _still_the_scanned_file(scan)


def _load_selection_summary(con, scan, report, load_id, loaded_at) -> None:
    """A selection's `_summary.json`: one record, checked, then stored beside its scenario pool."""
    record, report.rejects = selections.summary_row(scan.path)
    report.n_records = 1
    if report.rejects:
        return
    row = {"record_id": documents.record_id(record), "load_id": load_id, "selection_id": report.selection_id,
           "level": "summary", "line_no": 1, "record": json.dumps(record, ensure_ascii=False),
           "loaded_at": loaded_at}
    with transaction(con):
        report.n_new = append(con, "raw.selections", [row], ["record_id", "load_id"])
        fill_typed(con, ("selection",))  # its typed fields, by the rule every selection record is typed by
        _insert_load(con, load_id, scan, report, loaded_at)
        _still_the_scanned_file(scan)


def _candidate_rows(records: list[dict], id_column: str, stamp: dict) -> list[dict]:
    return [{"record_id": documents.record_id(record), "line_no": i + 1, id_column: record["id"],
             "record": json.dumps(record), **stamp} for i, record in enumerate(records)]


def _still_the_scanned_file(scan: read.FileScan) -> None:
    """Called inside the load's transaction: the bytes loaded are the bytes hashed, or nothing lands."""
    if not read.unchanged(scan):
        raise UserError(f"{scan.path}: the file changed while it was being loaded; nothing loaded (load it again)")


# what names a candidate in a file of its kind (collect runs exactly the candidates a file names)
CANDIDATE_KEYS = {
    "pairs": "line::json ->> 'id'",
    "scenarios": "line::json ->> 'id'",
    "templates": "trim(line)",
}


def _candidate_keys(con, kind: str) -> list[str]:
    """The candidates the lines in _lines define, in file order (templates: not the comments)."""
    where = "where not (starts_with(ltrim(line), '#') and position('{persona}' in line) = 0)" \
        if kind == "templates" else ""
    return [k for (k,) in con.execute(f"""
        select key from (select {CANDIDATE_KEYS[kind]} as key, min(line_no) as first from _lines {where} group by key)
        order by first""").fetchall()]


# every line of a file as DuckDB's reader sees it, in file order, blank ones marked (params: the
# path, the longest line it reads). Unnumbered: a window numbering them would run everything above
# it on one thread; a table created from these rows holds them in file order (DuckDB preserves
# insertion order), so a row's number is its rowid + 1 (_check_records).
FILE_LINES = """select line, line is null or not regexp_matches(line, '\\S') as blank
               from read_csv(?, columns = {'line': 'VARCHAR'}, header = false, delim = chr(1), quote = '',
                             escape = '', auto_detect = false, max_line_size = ?)"""
# every line of a file, numbered (_fast_lines: templates and candidates, small files)
NUMBERED_FILE_LINES = f"select (row_number() over ())::integer as line_no, * from ({FILE_LINES})"
HELD_LINES = "select line_no, line, false as blank from _lines"  # _lines read by Python or from a CSV


def _read_and_check(con, scan, report: LoadReport) -> tuple[list[Reject], int]:
    """_records straight from the file (FILE_LINES: the lines are not held twice), else from _lines
    read by Python, which names undecodable lines; returns those and how many blank lines the file
    held (skipped; the load report counts them)."""
    try:
        _check_records(con, report, FILE_LINES, [str(scan.path), MAX_FAST_LINE_BYTES],
                       small=bool(scan.stat) and scan.stat[0] <= SMALL_FILE_BYTES)
    except duckdb.Error:
        rejects, blank = _slow_lines(con, scan.path)
        _check_records(con, report, HELD_LINES)
        return rejects, blank
    return [], _drop_blank(con, "_records")


def _drop_blank(con, table: str) -> int:
    """Delete the rows FILE_LINES marked blank from `table`; returns how many there were."""
    blank = con.execute(f"select count(*) from {table} where blank").fetchone()[0]
    if blank:
        con.execute(f"delete from {table} where blank")
    return blank


def _read_lines(con, scan) -> tuple[list[Reject], int]:
    """_lines from the file (DuckDB's reader, else Python's, which names undecodable lines), and how
    many blank lines it held (skipped; the load report counts them)."""
    try:
        return [], _fast_lines(con, scan.path)
    except duckdb.Error:
        return _slow_lines(con, scan.path)


def _fast_lines(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Temp table _lines(line_no, line): every non-blank line, numbered as in the file; returns the
    number of blank (or whitespace-only) lines.

    DuckDB reads the file itself, in order, with blank lines kept as rows so that the
    numbers hold; far faster than Python. It refuses bad UTF-8, a stray carriage return
    or a line longer than its buffer (duckdb.Error); then _slow_lines takes over.
    (Streaming the file twice instead of holding the lines was slower, even at 1M pairs
    where the table spills to disk.)
    """
    con.execute(f"create or replace temp table _lines as {NUMBERED_FILE_LINES}", [str(path), MAX_FAST_LINE_BYTES])
    blank = _drop_blank(con, "_lines")
    con.execute("alter table _lines drop column blank")
    return blank


def _slow_lines(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[list[Reject], int]:
    """Temp table _lines read here, line by line; each undecodable line is a reject."""
    rejects = read.bad_utf8_lines(path)
    con.execute("create or replace temp table _lines (line_no integer, line varchar)")
    for batch in read.line_batches(path, {r.line_no for r in rejects}):
        con.register("_batch", batch)
        con.execute("insert into _lines select line_no, line from _batch")
        con.unregister("_batch")
    return rejects, read.blank_lines(path)


def _check_records(con: duckdb.DuckDBPyConnection, report: LoadReport, lines: str, lines_params=(),
                   small: bool = False) -> None:
    """Temp table _records(line_no, record_id, invalid_json, reasons, line, blank, ...): one pass over
    `lines` (SQL of line, blank and, unless it is FILE_LINES, line_no: HELD_LINES), which _lines then
    shows. FILE_LINES' rows are numbered by their place in _records (its rowid), which holds them in
    file order: the pass runs on every core (numbered by a window, it ran on one: 6.3 s -> 3.4 s for
    100k v2 lines on 2 cores).

    A record's id hashes its measurement (examples, stats) and its parsed record canonically
    (warehouse.keys.record_id_sql): re-serialised identical JSON is the same record. The
    canonical form reads the record as a map, which fails on a duplicate key: such a record is
    refused, naming the key (DuckDB keeps the first value, Python's json the last).

    `small` (a file of at most SMALL_FILE_BYTES): DuckDB plans the statement without its common
    subexpression pass. Planning an examples file's checks took ~110 ms whatever the file's size,
    ~30 ms of it that pass, which pays only at scale (100k lines: 4.3 s with it, 5.0 s without).
    """
    # each line parsed once for the checks (try(): NULL where the JSON is malformed), once into its
    # members (NULL unless an object without duplicate keys) for its canonical id and its unknown
    # fields; the checks run on the parsed fields; only keys, line numbers and reasons are kept
    measured = report.kind in ("examples", "stats", "selection")
    # a record is also typed here, from the same parse (ingest/typed.py)
    pair_key = f"{_exported_pair_id()} as pair_id," if report.kind == "examples" else ""
    if report.kind in TYPED_TABLES:
        pair_key += f" {typed_sql(report.kind)} as fields, {extra_sql(report.kind, 'members')} as extra,"
    measurement = "?" if measured else "null"
    params = [report.measurement_id or report.selection_id or ""] * ((2 if report.kind == "examples" else 1) if measured else 0)
    numbered = lines != FILE_LINES
    line_no = "line_no, " if numbered else ""
    if small:  # DuckDB's planning of these ~50 kB of SQL is most of a small file's check (docstring)
        con.execute("set disabled_optimizers = 'common_subexpressions'")
    try:
        con.execute(f"""
            create or replace temp table _records as
            select {line_no}record_id, {pair_key} invalid_json,
                   case when invalid_json then []::varchar[]
                        else list_concat({duplicate_keys_sql(report.kind)}, {reasons_sql(report.kind)}) end as reasons,
                   record as line, blank
            from (select {line_no}record, blank, t, s, members, t is null or not starts_with(ltrim(record), '{{') as invalid_json,
                         case when members is not null then {record_id_sql(measurement, 'record', 'members')} end as record_id
                  from (select {line_no}line as record, blank, {extract_sql(report.kind)},
                               case when t is not null then try({members_sql('line')}) end as members
                        from ({lines})))""", [*params, *lines_params])
    finally:
        if small:
            con.execute("reset disabled_optimizers")
    if not numbered:  # rowid: the row's place in the file (the table was created in file order)
        con.execute("alter table _records add column line_no integer")
        con.execute("update _records set line_no = (rowid + 1)::integer")
    # the lines live on in _records (the load reads one table, not a join of two the size of the file)
    con.execute("drop table if exists _lines")
    con.execute("create temp view _lines as select line_no, line from _records")


def _fresh_lines(con) -> None:
    """Make room for the next file's _lines: a view over the last JSON file's _records, a table otherwise."""
    if con.execute("select 1 from duckdb_views() where temporary and view_name = '_lines'").fetchone():
        con.execute("drop view _lines")


def _exported_pair_id() -> str:
    """warehouse.keys.pair_id over the checked fields of an examples line (`s`: their texts);
    the same casts as warehouse.schema.EXPORTED_PAIR_ID_SQL over a stored record."""
    i = field_index("examples")
    return pair_id_sql("?", f"s[{i['template']}]", f"s[{i['persona_pair']}]", f"s[{i['prompt']}]",
                       f"coalesce(try_cast(s[{i['sample']}] as integer), 0)", f"s[{i['scenario_id']}]",
                       f"s[{i['artifact']}]", f"try_cast(s[{i['row']}] as integer)")


# A template file holds one template per line. A line starting with `#` and without a slot is a
# comment (counted and named in the report); `__name__` is an engineered template, whose persona
# text is the pair's long descriptors. Everything else needs the {persona} slot.
ENGINEERED_TEMPLATE = r"^__[A-Za-z0-9_]+__$"


def _check_templates(con, report: LoadReport) -> None:
    con.execute(f"""
        create or replace temp table _records as
        select line_no, md5(trim(line)) as record_id, false as invalid_json,
               case when regexp_matches(line, '^\\s*[\\[{{"]') and try(json(trim(line))) is not null
                    then ['a JSON value, not a template: a templates file holds one template per line '
                          || '(JSON lines are another kind: leave out --kind, or give the right one)']
                    when list_filter(regexp_extract_all(line, '(?:^|[^{{])\\{{\\s*([A-Za-z_][A-Za-z0-9_]*)\\s*\\}}', 1),
                                     lambda slot: slot <> 'persona') <> []
                    then ['template slot {{' || list_filter(regexp_extract_all(line,
                          '(?:^|[^{{])\\{{\\s*([A-Za-z_][A-Za-z0-9_]*)\\s*\\}}', 1), lambda slot: slot <> 'persona')[1]
                          || '}} is not filled (only {{persona}} is)']
                    when position('{{persona}}' in line) > 0 or regexp_matches(trim(line), '{ENGINEERED_TEMPLATE}')
                    then []::varchar[]
                    else ['template has no {{persona}} slot (and is not an engineered __name__ template)'] end as reasons
        from _lines where not (starts_with(ltrim(line), '#') and position('{{persona}}' in line) = 0)""")
    skipped = con.execute("""select count(*), min(line_no) from _lines
                             where starts_with(ltrim(line), '#') and position('{persona}' in line) = 0""").fetchone()
    if skipped[0]:
        report.notes.append(f"{skipped[0]} comment line(s) starting with # skipped (first: line {skipped[1]})")


def _load_lines(con, scan, report, load_id, loaded_at, meta) -> None:
    if report.kind == "templates":
        bad_bytes, report.n_blank_lines = _read_lines(con, scan)
        _check_templates(con, report)
    elif report.kind == "stats" and read.is_csv(scan.first_line):
        bad_bytes, report.n_blank_lines = csv_stats.read_lines(con, scan.path)
        _check_records(con, report, HELD_LINES)
    else:
        bad_bytes, report.n_blank_lines = _read_and_check(con, scan, report)
    report.rejects.extend(bad_bytes)
    _reject_invalid_json(con, report)
    if _any_record(con, "len(reasons) > 0"):
        for line_no, reasons, excerpt in con.execute(
                "select line_no, reasons, left(_lines.line, 200) from _records join _lines using (line_no) "
                "where len(reasons) > 0 order by line_no").fetchall():
            report.rejects.append(Reject(line_no, reasons[0], excerpt))
    if report.kind == "examples" and not report.rejects:
        report.rejects.extend(identity.conflicting_lines(con))
        report.rejects.extend(identity.already_held(con, report.measurement_id))
        report.rejects.extend(measurements.conflicts(con, report.measurement_id, load_id, scan.path, meta,
                                                    protocol=measurements.examples_protocol(con)))
    report.rejects.sort(key=lambda r: r.line_no or 0)
    report.n_records = con.execute("select count(*) from _records").fetchone()[0] + len(bad_bytes)
    if report.rejects:
        return
    report.duplicates = identity.exact_duplicates(con)
    if report.kind in CANDIDATE_KEYS:
        report.keys = _candidate_keys(con, report.kind)
    if report.kind in ("pairs", "scenarios"):
        report.notes.extend(identity.redefined_ids(con, report.kind))
    with transaction(con):
        report.n_new = _insert_records(con, report, load_id, loaded_at)
        if report.kind == "examples":
            v3 = '"axis_judgments"' in scan.first_line or '"eval_id"' in scan.first_line
            measurements.insert(con, report.measurement_id, load_id, meta,
                                "examples_v3" if v3 else "examples_v2", {"source_path": str(scan.path)}, loaded_at)
        _insert_load(con, load_id, scan, report, loaded_at)
        _still_the_scanned_file(scan)


def _any_record(con, condition: str) -> bool:
    """Asked before listing failures: most files have none, and the listing joins the lines."""
    return con.execute(f"select count(*) from _records where {condition}").fetchone()[0] > 0


def _reject_invalid_json(con, report: LoadReport) -> None:
    """Lines DuckDB could not parse as a JSON object: Python names the problem and column."""
    if not _any_record(con, "invalid_json"):
        return
    for line_no, line in con.execute("select line_no, _lines.line from _records join _lines using (line_no) "
                                     "where invalid_json order by line_no").fetchall():
        try:
            json.loads(line)
            reason = "expected a JSON object on this line"
        except json.JSONDecodeError as exc:
            reason = f"invalid JSON: {exc.msg} at column {exc.colno} (truncated or malformed line)"
        except RecursionError:
            reason = "invalid JSON: nested too deeply"
        report.rejects.append(Reject(line_no, reason, line[:200]))


# A record twice in one file is stored once (its first line). A record that another live load
# holds too is stored again for this load: each load owns its rows, so forgetting one load never
# takes another's records (staging keeps one row per record: dbt/macros/held_once.sql).
_TYPED = "fields, extra"  # a typed kind's derived columns (ingest/typed.py)
_RECORD_COLUMNS = {
    "pairs": ("raw.persona_pairs", f"line::json ->> 'id' as persona_pair_id, line::json as record, {_TYPED}"),
    "scenarios": ("raw.scenarios", f"line::json ->> 'id' as scenario_id, line::json as record, {_TYPED}"),
    "templates": ("raw.templates", "trim(line) as template_text"),
    "examples": ("raw.exported_pairs", f"? as measurement_id, line::json as record, pair_id, {_TYPED}"),
    "stats": ("raw.published_stats", f"? as measurement_id, {STATS_LEVEL_SQL} as level, line::json as record, "
                                     f"?::varchar as generator_model, {_TYPED}"),
    "selection": ("raw.selections", "? as selection_id, 'scenario' as level, line::json ->> 'id' as scenario_id, "
                                    f"line::json as record, {_TYPED}"),
}


def _insert_records(con, report: LoadReport, load_id: str, loaded_at) -> int:
    """Store the file's records for this load; returns how many no live load held before."""
    table, columns = _RECORD_COLUMNS[report.kind]
    con.execute("create or replace temp table _first as select record_id, min(line_no) as line_no "
                "from _records group by record_id")
    params = [report.measurement_id] if report.kind in ("examples", "stats") else []
    where = "where held.measurement_id = ?" if params else ""
    if report.kind == "selection":
        params, where = [report.selection_id], "where held.selection_id = ?"
    n_new = con.execute(f"""select count(*) from _first anti join (select record_id from {table} as held {where})
                            using (record_id)""", params).fetchone()[0]
    extra = [report.generator_model] if report.kind == "stats" else []
    if report.kind == "templates":
        source = "_lines join _first using (line_no)"
    else:  # a JSON file's _records holds each line with its checks, id and typed fields
        source = "_records semi join _first using (line_no)" if report.duplicates.n_lines else "_records"
    append(con, table, f"""
        select record_id, ?::varchar as load_id, line_no, {columns}, ?::timestamp as loaded_at
        from {source}""", ["record_id", "load_id"], [load_id, *params, *extra, loaded_at])
    return n_new


def _insert_load(con, load_id, scan, report, loaded_at) -> None:
    con.execute("delete from raw.loads where load_id = ?", [load_id])  # a forgotten load, loaded again
    con.execute("insert into raw.loads (load_id, file_sha256, kind, source_path, measurement_id, n_records, loaded_at, "
                "n_blank_lines) values (?, ?, ?, ?, ?, ?, ?, ?)",
                [load_id, scan.sha256, report.kind, str(scan.path), report.measurement_id,
                 report.n_records, loaded_at, report.n_blank_lines])


def _load_artifact(con, scan, report, load_id, loaded_at, meta) -> None:
    """A run artifact, or an Inspect log read as one (its samples are the artifact's results)."""
    run = None
    if report.kind == "inspect":
        run, problem = inspect_log.read(scan.path)
        doc = run.doc if run else None
    else:
        report.rejects.extend(read.bad_utf8_lines(scan.path))
        if report.rejects:
            return
        doc, problem = artifact.load_document(scan.path)
    if problem:
        report.rejects.append(problem)
        return
    report.n_records = len(doc["results"])
    problem = artifact.run_metadata_problem(doc)
    if problem:
        report.rejects.append(problem)
        return
    pairs, judgments, rejects = artifact.rows(doc, report.measurement_id, load_id, loaded_at)
    report.rejects.extend(inspect_log.name_samples(rejects, run) if run else rejects)
    calls = inspect_log.api_call_rows(run, pairs, report.measurement_id, load_id, loaded_at) if run else []
    if not report.rejects:
        pairs, judgments, report.duplicates, conflicts = artifact.distinct_pairs(pairs, judgments)
        report.rejects.extend(conflicts)
    if not report.rejects:
        report.rejects.extend(_artifact_pairs_held(con, report.measurement_id, pairs))
        report.rejects.extend(measurements.conflicts(
            con, report.measurement_id, load_id, scan.path, meta, artifact.run_metadata(doc),
            protocol=measurements.artifact_protocol(doc)))
    if report.rejects:
        return
    with transaction(con):
        n_held = _n_held(con, report.measurement_id, [p["pair_id"] for p in pairs])
        append(con, "raw.pairs", pairs, ["pair_id", "load_id"])
        append(con, "raw.judgments", judgments, ["judgment_id", "load_id"])
        if calls:
            append(con, "raw.api_calls", calls, "cache_key")
        report.n_new = len(pairs) - n_held
        measurements.insert(con, report.measurement_id, load_id, meta, report.kind,
                            {"source_path": str(scan.path)}, loaded_at, artifact.run_metadata(doc))
        _insert_load(con, load_id, scan, report, loaded_at)
        _still_the_scanned_file(scan)


def _n_held(con, measurement_id: str, pair_ids: list[str]) -> int:
    return con.execute("select count(distinct pair_id) from raw.pairs where measurement_id = ? "
                       "and pair_id in (select unnest(?))", [measurement_id, pair_ids]).fetchone()[0]


def _artifact_pairs_held(con, measurement_id: str, pairs: list[dict]) -> list[Reject]:
    """Pairs of this artifact that the measurement already holds with other content (another result,
    an exported record, a collected pair). The same result from another live load is the same record."""
    if not pairs:
        return []
    import pyarrow as pa  # ~0.13 s with numpy: only an artifact's load needs it

    mine = pa.table({"pair_id": [p["pair_id"] for p in pairs], "record_id": [p["record_id"] for p in pairs]})
    con.register("_artifact_pairs", mine)
    try:
        held = dict(con.execute("""
            select pair_id, any_value(coalesce(loads.source_path, 'a collected run') || ' [load '
                                      || left(held.load_id, 12) || ']') from (
                select pair_id, record_id, load_id from raw.pairs where measurement_id = ?
                union all
                select pair_id, null, load_id from raw.exported_pairs where measurement_id = ?) as held
            join _artifact_pairs as mine using (pair_id)
            left join raw.loads as loads using (load_id)
            where held.record_id is distinct from mine.record_id
            group by pair_id""", [measurement_id, measurement_id]).fetchall())
    finally:
        con.unregister("_artifact_pairs")
    return [Reject(None, f"{p['where']}: measurement {measurement_id} already holds this pair with different content "
                         f"(from {held[p['pair_id']]}); remove that load first (psw forget --load ID)")
            for p in pairs if p["pair_id"] in held]


def _record_rejects(con, report: LoadReport, load_id: str, rejected_at) -> None:
    with transaction(con):
        con.executemany(
            "insert into raw.rejects select ?, ?, ?, ?, ?, ? where not exists "
            "(select 1 from raw.rejects where load_id = ? and line_no is not distinct from ? and reason = ?)",
            [[load_id, str(report.path), r.line_no, r.reason, r.excerpt, rejected_at, load_id, r.line_no, r.reason]
             for r in report.rejects])
