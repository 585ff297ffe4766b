"""`psw export-inspect`: an anchored measurement as an Inspect AI .eval log (report/inspect_log.py)."""

from __future__ import annotations

from pathlib import Path

from warehouse.db import db_path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export-inspect", help="write an anchored measurement as an Inspect .eval log (inspect view opens it)",
        description="Write one measurement measured under the anchored protocol as an Inspect AI log in "
        "upstream's shape (task persona_axis_validation: one sample per pair, its row in "
        "store['persona_axis_result'], scored by overall_score), so the field's viewer browses it. "
        "Reads the built warehouse (psw build first); `psw ingest FILE.eval` reads it back.")
    p.add_argument("--measurement", required=True, metavar="ID", help="the measurement to write")
    p.add_argument("--out", required=True, type=Path, metavar="FILE.eval", help="the log file to write (replaced)")
    p.set_defaults(func=run)


def run(args) -> int:
    from report.inspect_log import export_inspect

    print(export_inspect(db_path(args.db), args.measurement, args.out))
    return 0
