"""`psw`: one command, one subcommand per step of the flow.

Each feature module exposes `add_parser(subparsers)`, which registers its
subcommand and sets `func(args) -> int`. Add a module to COMMANDS to add a
subcommand.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from warehouse.errors import UserError

COMMANDS = [
    "psw.commands.ingest",
    "psw.commands.build",
    "psw.commands.sql",
    "psw.commands.collect",
    "psw.commands.extract",
    "psw.commands.dashboard",
    "psw.commands.export_hf",
    "psw.commands.export_selection",
    "psw.commands.lint",
]


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="psw",
        description="Persona Steering Warehouse: measure template x persona-pair cells, "
        "derive clean-axis scores with dbt, browse and publish them.",
    )
    parser.add_argument("--db", help="DuckDB file (env PSW_DB; default data/warehouse.duckdb)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not hasattr(args, "passthrough"):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.passthrough = args.passthrough + extra
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
