"""`psw`: one command, one subcommand per step of the flow.

Each feature module exposes `add_parser(subparsers)`, which registers its
subcommand and sets `func(args) -> int`. Add a module to COMMANDS to add a
subcommand, and its one example to EXAMPLES.

Global options (`--db`) are accepted before or after the subcommand.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap
import threading
from pathlib import Path

from warehouse.errors import UserError, one_line

COMMANDS = [
    "psw.commands.ingest",
    "psw.commands.forget",
    "psw.commands.build",
    "psw.commands.sql",
    "psw.commands.collect",
    "psw.commands.runs",
    "psw.commands.extract",
    "psw.commands.dashboard",
    "psw.commands.docs",
    "psw.commands.export_hf",
    "psw.commands.export_stats",
    "psw.commands.export_selection",
    "psw.commands.export_inspect",
    "psw.commands.export_vectors",
    "psw.commands.lint",
    "psw.commands.report",
    "psw.commands.server",
]

# one example per command (`psw COMMAND --help` shows it; `psw --help` lists them all)
EXAMPLES = {
    "ingest": "psw ingest pairs.jsonl templates.txt scenarios.jsonl my_run_examples.jsonl --judge-model M",
    "build": "psw build",
    "sql": 'psw sql "select score, template_text, persona_pair_id from template_pair_scores '
           'order by score desc limit 5"',
    "collect": "psw collect --pairs P.jsonl --templates T.txt --scenarios S.jsonl --n 4 "
               "--generator qwen/qwen3.5-27b --judge google/gemini-3.1-flash-lite-preview",
    "runs": "psw runs",
    "forget": "psw forget --load 3fa2c1d09b7e && psw build",
    "extract": "psw extract vectors --model Qwen/Qwen2.5-0.5B-Instruct --layers 8,12,16",
    "extract vectors": "psw extract vectors --model Qwen/Qwen2.5-0.5B-Instruct --layers 8,12,16",
    "extract steer": "psw extract steer --cell CELL_ID --layer 12 --coeffs -3,-1,0,1,3,5",
    "extract judge": "psw extract judge --cell CELL_ID --layer 12 --judge openai/gpt-4.1-mini --rubric my_rubric/",
    "extract project": "psw extract project --cell CELL_ID --layer 12",
    "dashboard": "psw --db data/demo.duckdb dashboard --port 8501",
    "docs": "psw docs --port 8080",
    "export-hf": "psw export-hf --out hf_export/",
    "import-hf": "psw import-hf hf_export/",
    "export-stats": "psw export-stats --out stats/ --measurement v2_pilot_seed23",
    "export-selection": "psw export-selection --out selection/ --keep-per-source 2",
    "export-inspect": "psw export-inspect --measurement my_run --out my_run.eval",
    "export-vectors": "psw export-vectors --cell CELL_ID --format gguf --out calm.gguf",
    "lint": "psw lint persona_pairs.jsonl templates.txt",
    "report": "psw report --out results/",
    "server": "psw server status",
}
# what each exit status means; `psw COMMAND --help` ends with it (collect states its own)
BAD_INPUT = "bad input (one line on stderr says where)"
EXIT_DEFAULT = {0: "done", 2: BAD_INPUT, 130: "interrupted (Ctrl-C)"}
EXIT_CODES = {
    "ingest": {0: "every file loaded, or was already loaded",
               2: "a file was refused (file:line: reason; nothing of it loaded), or " + BAD_INPUT},
    "forget": {0: "the loads were taken out of raw (run `psw build` next)"},
    "build": {0: "every model built and every test passed, or nothing changed since the last build",
              2: "a model or test failed (each named on stderr), or " + BAD_INPUT},
    "sql": {0: "the rows were printed or written", 2: "the query was refused or failed (one line says why), or " + BAD_INPUT},
    "runs": {0: "the measurements were listed (none is not an error)"},
    "dashboard": {0: "the server stopped"},
    "docs": {0: "the site was generated (and served until Ctrl-C)",
             2: "dbt docs generate failed, the port is taken, or " + BAD_INPUT},
    "export-hf": {0: "the splits and card were written (and pushed)",
                  2: "a secret was found, the folder is not one psw wrote, or " + BAD_INPUT},
    "import-hf": {0: "the library was loaded into raw", 2: "a split was refused (nothing loaded) or " + BAD_INPUT},
    "export-stats": {0: "the stats files were written", 2: "a secret was found, an unknown measurement, or " + BAD_INPUT},
    "export-selection": {0: "the selection was written"},
    "export-inspect": {0: "the .eval log was written", 2: "not built, no such measurement, not anchored, or " + BAD_INPUT},
    "lint": {0: "no findings", 1: "findings (one line each on stdout)"},
    "report": {0: "the report was written", 2: "no built marts to report on, or " + BAD_INPUT},
    "server": {0: "started (and answering), running or not, or stopped",
               2: "the server is off, its folder is not private, or it did not start"},
}
EXIT_CODES["extract"] = {0: "the step finished and its rows were written", 2: BAD_INPUT}
for _step in ("vectors", "steer", "judge", "project"):
    EXIT_CODES[f"extract {_step}"] = EXIT_CODES["extract"]


def exit_status_help(name: str) -> str:
    codes = {**EXIT_DEFAULT, **EXIT_CODES.get(name, {})}
    return "exit status:\n" + "\n".join(f"  {code:<3} {codes[code]}" for code in sorted(codes))


DB_HELP = "DuckDB file (env PSW_DB; default data/warehouse.duckdb); before or after the subcommand"


class Formatter(argparse.HelpFormatter):
    """Wraps prose as usual but keeps indented lines (the examples) as written."""

    def _fill_text(self, text, width, indent):
        out = []
        for paragraph in text.split("\n\n"):
            lines = paragraph.splitlines()
            if any(line.startswith("  ") for line in lines):
                out.append("\n".join(indent + line for line in lines))
            else:
                out.append(textwrap.fill(" ".join(paragraph.split()), width, initial_indent=indent,
                                         subsequent_indent=indent))
        return "\n\n".join(out)


class Parser(argparse.ArgumentParser):
    """Bad arguments are one line too (argparse prints the whole usage first); subcommands'
    parsers are of this class as well."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {' '.join(message.split())} (`{self.prog} --help` lists the options)\n")


def version() -> str:
    from importlib import metadata  # ~25 ms of imports (email's parser): not for every command's start

    try:
        own = metadata.version("persona-steering-warehouse")
    except metadata.PackageNotFoundError:
        import tomllib

        own = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["version"]
    deps = []
    for name in ("duckdb", "dbt-core", "dbt-duckdb"):
        try:
            deps.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return f"psw {own} ({', '.join(deps)})" if deps else f"psw {own}"


def _subcommands(parser: argparse.ArgumentParser, prefix: str = ""):
    """(name path, parser) of every subcommand, nested ones included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield prefix + name, sub
                    yield from _subcommands(sub, f"{prefix}{name} ")


def _finish_subcommand(name: str, sub: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand's --db only overrides the global one when it is given
    if "--db" not in sub._option_string_actions:
        sub.add_argument("--db", default=argparse.SUPPRESS, metavar="PATH", help=DB_HELP)
    sub.formatter_class = Formatter
    if name in EXAMPLES and "example:" not in (sub.epilog or ""):
        sub.epilog = "\n\n".join(filter(None, [f"example:\n  {EXAMPLES[name]}", sub.epilog]))
    if "exit status:" not in (sub.epilog or ""):
        sub.epilog = "\n\n".join(filter(None, [sub.epilog, exit_status_help(name)]))


# The parser of a resident server's commands, built once before it forks each (psw/server.py `_preload`;
# building one is ~10-17 ms of a served `psw sql`'s ~0.17 s); empty in any other process, where main()
# builds one for each call.
PARSER: list[argparse.ArgumentParser] = []


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="psw", formatter_class=Formatter,
        description="Persona Steering Warehouse: measure template x persona-pair cells, "
        "derive clean-axis scores with dbt, browse and publish them.",
    )
    parser.add_argument("--db", metavar="PATH", help=DB_HELP)
    parser.add_argument("--version", action="version", version=version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).add_parser(sub)
    for name, subparser in _subcommands(parser):
        _finish_subcommand(name, subparser)
    top = [f"  {EXAMPLES[name]}" for name in sub.choices if name in EXAMPLES]
    parser.epilog = "examples (`psw COMMAND --help` for every option):\n" + "\n".join(top) + "\n\n" + \
        exit_status_help("")
    return parser


def _db_values(argv: list[str]) -> list[str]:
    """Every --db given, before or after the subcommand (up to a `--`, after which dbt's args start)."""
    values = []
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--db" and i + 1 < len(argv):
            values.append(argv[i + 1])
        elif arg.startswith("--db="):
            values.append(arg.split("=", 1)[1])
    return values


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    dbs = _db_values(argv)
    if len(set(dbs)) > 1:  # argparse keeps the last one: say so, the other file may have been meant
        print(f"warning: --db given {len(dbs)} times ({', '.join(dbs)}); using the last: {dbs[-1]}",
              file=sys.stderr)
    parser = PARSER[0] if PARSER else make_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not hasattr(args, "passthrough"):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.passthrough = args.passthrough + extra
    try:
        return int(args.func(args) or 0)
    except UserError as exc:   # one line, whatever a file name or a value in it holds
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:   # `psw lint ... | head`: the reader has all it wants
        _quiet_stdout()
        return 141
    except Exception as exc:  # noqa: BLE001 (re-raised unless it is DuckDB's out-of-memory error)
        if not _out_of_memory(exc):
            raise
        from warehouse.db import memory_limit

        print(f"error: DuckDB ran out of memory under psw's cap of {memory_limit()} (PSW_MEMORY_LIMIT): "
              f"{one_line(str(exc).strip().splitlines()[0])}; raise PSW_MEMORY_LIMIT, or free memory on this machine",
              file=sys.stderr)
        return 2


def _out_of_memory(exc: BaseException) -> bool:
    """DuckDB's OutOfMemoryException (by name: the `psw` program does not import DuckDB to start)."""
    kind = type(exc)
    return kind.__name__ == "OutOfMemoryException" and kind.__module__.lstrip("_").startswith("duckdb")


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not fail again."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def entry() -> None:
    """The `psw` program (`python -m psw.cli` too): `main`, then the exit. After a command that ran dbt,
    the process leaves without Python's teardown of its ~1,700 modules and dbt's objects (~0.6 s of a
    pilot build's ~6 s, freeing memory the system takes back anyway), as mypy does: the exit handlers
    still run (logging's flush of dbt's log file among them) and the output is flushed. Not while another
    thread still runs (Python's exit would wait for it); every DuckDB connection psw and dbt open is
    closed when their command ends (`with connect(...)`, dbt_runner's `_release_warehouse`), so nothing
    is left for the teardown to close. The commands psw/server.py lists run in a fresh child of a
    resident server that has imported dbt and psw, when one answers; else here, and one is started."""
    from psw import server

    code = server.run(sys.argv[1:])   # a resident server's fresh child runs it, if one answers
    if code is not None:
        sys.exit(code)
    routed = server.command_of(sys.argv[1:]) in server.ROUTED
    if routed:
        server.collector_off()   # as in a server's child: one command, then the process ends
    code = main()
    if routed:
        server.start_later()   # for the next command
    if "dbt" in sys.modules and threading.active_count() == 1:
        _leave(code)
    sys.exit(code)


def _leave(code: int) -> None:
    import atexit
    import os

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a closed or broken pipe: nothing more can be written
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()
