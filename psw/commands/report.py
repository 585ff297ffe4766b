"""`psw report --out DIR`: a static results page (markdown + HTML tables, PNG and SVG plots)."""

from __future__ import annotations

from pathlib import Path

from warehouse.db import db_path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report", help="write a static results page: top cells per measurement, plots (markdown, HTML, PNG, SVG)",
        description="Writes DIR/README.md and DIR/index.html (the top cells of each measurement, named by "
        "template text and persona poles), the on/off-axis scatter, the model-matrix heatmap and, when "
        "sweeps exist, the steering curves as PNG and SVG. Everything is read from the built marts; the "
        "same warehouse gives the same bytes. DIR is replaced whole, and only if `psw report` wrote it.")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder to write (replaced whole)")
    p.add_argument("--top", type=int, default=5, metavar="N", help="cells per measurement in the tables (default 5)")
    p.set_defaults(func=run)


def run(args) -> int:
    from report.page import write_report

    print(write_report(db_path(args.db), args.out, args.top).summary())
    return 0
