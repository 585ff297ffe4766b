"""`psw sql "SELECT ..."`: one read-only query over the marts, printed as a table, CSV or JSON."""

from __future__ import annotations

import sys

import duckdb

from warehouse.db import UserError, connect, db_path

READ_ONLY_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def add_parser(sub) -> None:
    p = sub.add_parser("sql", help="run one read-only query; marts by their plain names",
                       description='Example: psw sql "select * from template_pair_scores order by score desc limit 5"')
    p.add_argument("query")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--max-rows", type=int, default=40, help="rows shown in table format")
    p.set_defaults(func=run)


def check_read_only(query: str) -> None:
    """Refuse anything but a single SELECT (the dashboard's SQL page uses this too)."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise UserError(f"query: {str(exc).splitlines()[0]}") from exc
    if len(statements) != 1:
        raise UserError(f"query: expected exactly one statement, got {len(statements)}")
    if statements[0].type not in READ_ONLY_STATEMENTS:
        raise UserError(f"query: only SELECT is allowed here, not {statements[0].type.name}")


def run(args) -> int:
    check_read_only(args.query)
    con = connect(db_path(args.db), read_only=True)
    try:
        rel = con.sql(args.query)
        if args.format == "table":
            rel.show(max_rows=args.max_rows, max_width=200)
        elif args.format == "csv":
            rel.pl().write_csv(sys.stdout)
        else:
            sys.stdout.write(rel.pl().write_json() + "\n")
    except duckdb.Error as exc:
        raise UserError(f"query: {str(exc).splitlines()[0]}") from exc
    finally:
        con.close()
    return 0
