"""`psw sql "SELECT ..."`: one read-only query over the warehouse, as a table, CSV, JSON or Parquet.

The query runs on a sandboxed connection (warehouse/db.py): it sees the warehouse and nothing
else. The table format fits the terminal: floats rounded for display, long values cut with `…`,
and when the columns cannot fit side by side, one block per row; no column is ever left out.
"""

from __future__ import annotations

import math
import shutil
import sys
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
    p.set_defaults(func=run)


def run(args) -> int:
    check_read_only(args.query)
    if args.format == "parquet" and args.out is None and sys.stdout.isatty():
        raise UserError("--format parquet: binary output; give --out FILE or redirect stdout")
    con = connect_user_sql(db_path(args.db))
    try:
        rel = con.sql(args.query)
        if args.format == "table":
            _write_text(args.out, render_table(rel, args.max_rows, terminal_width()))
        elif args.format == "parquet":
            _write_parquet(rel, args.out)
        else:
            frame = rel.pl()
            text = frame.write_csv() if args.format == "csv" else frame.write_json() + "\n"
            _write_text(args.out, text)
    except duckdb.Error as exc:
        raise UserError(f"query: {describe_sql_error(exc)}") from None
    finally:
        con.close()
    return 0


def _write_text(out: Path | None, text: str) -> None:
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


def _write_parquet(rel, out: Path | None) -> None:
    import pyarrow.parquet as pq

    table = rel.to_arrow_table()
    pq.write_table(table, str(out) if out is not None else sys.stdout.buffer)


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
    return text.replace("\r\n", "↵").replace("\n", "↵").replace("\t", " ")


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
    names = list(rel.columns)
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
