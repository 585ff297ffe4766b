"""`psw sql "SELECT ..."`: one read-only query over the warehouse, as a table, CSV, JSON or Parquet.

The query runs on a sandboxed connection (warehouse/db.py): it sees the warehouse and nothing
else. The table format fits the terminal: floats rounded for display, long values cut with `…`,
and when the columns cannot fit side by side, one block per row; no column is ever left out.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import duckdb

from warehouse.db import check_read_only, connect_user_sql, db_path, describe_sql_error  # noqa: F401
from warehouse.errors import UserError

NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
           "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
GAP = "  "
MIN_WIDTH = 6


def add_parser(sub) -> None:
    p = sub.add_parser("sql", help="run one read-only query; marts by their plain names",
                       description='Example: psw sql "select * from template_pair_scores order by score desc limit 5". '
                       "The query sees the warehouse only: no files, URLs, extensions or settings.")
    p.add_argument("query")
    p.add_argument("--format", choices=["table", "csv", "json", "parquet"], default="table",
                   help="table (for reading; fits the terminal) or csv/json/parquet (for scripts: every row, "
                        "full values)")
    p.add_argument("--max-rows", type=int, default=40, help="rows shown in table format (default 40)")
    p.add_argument("--out", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help=f"stop the query after S seconds (default {DEFAULT_TIMEOUT_S:g}; 0: no limit). "
                        "Ctrl-C stops it at once")
    p.set_defaults(func=run)


# A query holds the warehouse's read lock while it runs, so writers (ingest, build) wait for it.
DEFAULT_TIMEOUT_S = 120.0


def run(args) -> int:
    check_read_only(args.query)
    if args.format == "parquet" and args.out is None and sys.stdout.isatty():
        raise UserError("--format parquet: binary output; give --out FILE or redirect stdout")
    if not math.isfinite(args.timeout) or args.timeout < 0:
        raise UserError(f"--timeout {args.timeout:g}: expected seconds >= 0 (0: no limit)")
    con = connect_user_sql(db_path(args.db))
    try:
        result = run_stoppable(con, lambda: _produce(con, args), args.timeout)
    except duckdb.InterruptException:
        raise UserError(f"query: stopped after {args.timeout:g} s (--timeout S sets the limit, 0 for none)") from None
    except duckdb.Error as exc:
        raise UserError(f"query: {describe_sql_error(exc)}") from None
    finally:
        with contextlib.suppress(duckdb.Error):   # after Ctrl-C DuckDB may still call it busy
            con.close()
    _write(args.out, result)
    return 0


def _interrupted() -> int:
    print("interrupted", file=sys.stderr, flush=True)
    sys.stdout.flush()
    return 130


def run_stoppable(con: duckdb.DuckDBPyConnection, work, timeout: float):
    """`work()` in a thread, so that Ctrl-C (which Python delivers to the main thread only, and
    not while DuckDB runs) and the time limit can interrupt the query at once. An interrupt only
    stops a query that has begun, so it is repeated until the work ends."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    deadline = time.monotonic() + timeout if timeout > 0 else math.inf
    worker.start()
    try:
        while worker.is_alive():
            if time.monotonic() > deadline:
                con.interrupt()
            worker.join(0.05)
    except KeyboardInterrupt:
        give_up = time.monotonic() + 1.0
        while worker.is_alive() and time.monotonic() < give_up:
            con.interrupt()
            worker.join(0.02)
        # leave at once, closing nothing: DuckDB may still be winding the query down, and the
        # connection is read-only, so there is nothing to save
        os._exit(_interrupted())
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _produce(con, args):
    """The whole output, as text or (for parquet) an Arrow table."""
    rel = con.sql(args.query)
    if args.format == "table":
        return render_table(rel, args.max_rows, terminal_width())
    rel = nested_as_json(rel) if args.format == "csv" else rel
    if args.format == "parquet":
        return rel.to_arrow_table()
    frame = rel.pl()
    return frame.write_csv() if args.format == "csv" else frame.write_json() + "\n"


def nested_as_json(rel):
    """CSV has no nested values: lists, structs and maps become their JSON text."""
    columns = []
    for name, kind in zip(rel.columns, rel.types):
        quoted = '"' + name.replace('"', '""') + '"'
        nested = str(kind).startswith(("STRUCT", "MAP", "UNION")) or str(kind).endswith("]")
        columns.append(f"to_json({quoted})::varchar as {quoted}" if nested else quoted)
    return rel.project(", ".join(columns)) if any(c.startswith("to_json") for c in columns) else rel


def _write(out: Path | None, result) -> None:
    """To stdout, or to FILE whole or not at all (a temporary file beside it, then renamed)."""
    if out is None:
        if isinstance(result, str):
            sys.stdout.write(result)
        else:
            import pyarrow.parquet as pq

            pq.write_table(result, sys.stdout.buffer)
        return
    out = out.absolute()
    if out.is_dir():
        raise UserError(f"--out {out}: is a folder; give a file name")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if isinstance(result, str):
            tmp.write_text(result, encoding="utf-8")
        else:
            import pyarrow.parquet as pq

            pq.write_table(result, str(tmp))
        os.replace(tmp, out)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


# ---- the table format ----------------------------------------------------------------------

def terminal_width() -> int:
    return max(40, shutil.get_terminal_size((120, 24)).columns)


def show(value) -> str:
    """One value as display text: floats rounded to 4 decimals, NULL spelled out, one line."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return show_float(value)
    if isinstance(value, Decimal):
        return show_float(float(value)) if value.as_tuple().exponent < -4 else str(value)
    text = str(value)
    return escape_controls(text.replace("\r\n", "↵").replace("\n", "↵").replace("\t", " "))


# C0 and C1 control characters (escape sequences: window title, clear screen, OSC 52 clipboard
# writes) and the bidi overrides that reorder what a terminal shows
CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str) -> str:
    """Control characters as visible escapes (`\\x1b`), so data cannot drive the terminal."""
    return CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)


def show_float(x: float) -> str:
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == 0 or 1e-4 <= abs(x) < 1e15:
        text = f"{x:.4f}".rstrip("0").rstrip(".")
        return "0" if text in ("", "-0") else text
    return f"{x:.3e}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def render_table(rel, max_rows: int, width: int) -> str:
    names = [show(name) for name in rel.columns]
    numeric = [str(t).split("(")[0] in NUMERIC for t in rel.types]
    rows = rel.limit(max_rows + 1).fetchall() if max_rows >= 0 else rel.fetchall()
    more = len(rows) > max_rows
    cells = [[show(v) for v in row] for row in rows[:max_rows]]
    widths = fit_widths(names, cells, width)
    if widths is None:
        body, cut = _vertical(names, cells, width)
    else:
        body, cut = _horizontal(names, cells, widths, numeric)
    shown = len(cells)
    foot = (f"first {shown} rows (more not shown: --max-rows N, or --format csv for every row)" if more
            else f"{shown} row{'s' if shown != 1 else ''}") + f", {len(names)} columns"
    if cut:
        foot += f"; long values cut to fit {width} characters (--format csv or json for full values)"
    return "\n".join(body + [foot]) + "\n"


def fit_widths(names: list[str], cells: list[list[str]], width: int) -> list[int] | None:
    """Column widths that fit `width`: the widest columns shrink first, never below their header
    (or MIN_WIDTH); None when even that does not fit (then the rows go one block each)."""
    natural = [max([len(n)] + [len(row[i]) for row in cells]) for i, n in enumerate(names)]
    floor = [min(nat, max(len(n), MIN_WIDTH)) for nat, n in zip(natural, names)]
    room = width - len(GAP) * (len(names) - 1)
    if sum(floor) > room:
        return None
    if sum(natural) <= room:
        return natural
    lo, hi = 0, max(natural)    # the largest cap whose widths fit
    while lo < hi:
        cap = (lo + hi + 1) // 2
        if sum(max(f, min(nat, cap)) for f, nat in zip(floor, natural)) <= room:
            lo = cap
        else:
            hi = cap - 1
    return [max(f, min(nat, lo)) for f, nat in zip(floor, natural)]


def _horizontal(names, cells, widths, numeric) -> tuple[list[str], bool]:
    def line(values):
        parts = []
        for value, w, right in zip(values, widths, numeric):
            value = _cut(value, w)
            parts.append(value.rjust(w) if right else value.ljust(w))
        return GAP.join(parts).rstrip()

    cut = any(len(v) > w for row in cells for v, w in zip(row, widths))
    return [line(names), GAP.join("─" * w for w in widths)] + [line(row) for row in cells], cut


def _vertical(names, cells, width) -> tuple[list[str], bool]:
    label = max(len(n) for n in names)
    room = max(10, width - label - 3)
    lines, cut = [], False
    for k, row in enumerate(cells, 1):
        lines.append(f"── row {k} " + "─" * max(0, min(width, 40) - len(f"── row {k} ")))
        for name, value in zip(names, row):
            cut = cut or len(value) > room
            lines.append(f"{name.ljust(label)} │ {_cut(value, room)}")
    return lines, cut
