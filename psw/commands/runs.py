"""`psw runs`: the measurements in the warehouse, from the `measurements` mart that dbt builds."""

from __future__ import annotations

import json

from warehouse.db import connect, db_path
from warehouse.errors import UserError

COLUMNS = [("measurement_id", "measurement"), ("source_format", "source"), ("generator_model", "generator"),
           ("judge_models", "judges"), ("n_cells", "cells"), ("n_pairs", "pairs"), ("n_error_pairs", "pair_err"),
           ("n_judgments", "judgments"), ("n_judge_errors", "judge_err"), ("n_api_calls", "calls"),
           ("prompt_tokens", "prompt_tok"), ("completion_tokens", "compl_tok"), ("cost", "cost")]


def add_parser(sub) -> None:
    p = sub.add_parser("runs", help="list measurements with counts, errors, tokens and cost",
                       description="Lists the `measurements` mart (run `psw build` after loading).")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=run)


def run(args) -> int:
    path = db_path(args.db)
    with connect(path, read_only=True) as con:
        if not con.execute("select 1 from information_schema.tables where table_schema = 'main' "
                           "and table_name = 'measurements'").fetchone():
            raise UserError(f"{path}: no measurements mart yet; run `psw build` first")
        cur = con.execute("select * from measurements order by first_loaded_at, measurement_id")
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    if args.json:
        for row in rows:
            print(json.dumps(row, default=str))
        return 0
    if not rows:
        print("no measurements yet")
        return 0
    table = [[head for _, head in COLUMNS]]
    for row in rows:
        row["judge_models"] = ",".join(row["judge_models"] or [])
        row["cost"] = "" if row["cost"] is None else f"${row['cost']:.4f}"
        table.append(["" if row[key] is None else str(row[key]) for key, _ in COLUMNS])
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    for line in table:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip())
    return 0
