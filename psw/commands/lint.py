"""`psw lint`: check persona pairs and templates before paying for a measured run."""

from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "lint", help="check persona pairs and templates before a measured run (file:line per finding)",
        description="Cheap checks on candidate files: negation pairs (kind / not kind), unmirrored clauses, "
        "article errors ('a honest', also as the templates fill each persona), persona words answers tend to "
        "echo, templates without a {persona} slot. One line per finding, `file:line: check: message`; exit "
        "status 1 when there are findings, 0 when there are none. Reads files only, never the warehouse.")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE",
                   help="persona pairs JSONL and/or templates TXT (templates are checked against the pairs given)")
    p.add_argument("--kind", choices=("pairs", "templates"), help="the kind of every FILE (default: detected)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ingest.lint import lint_files

    findings = lint_files(list(args.files), args.kind)
    for finding in findings:
        print(finding)
    files = len({f.path for f in findings})
    print(f"lint: {len(findings)} findings in {files} of {len(args.files)} files", file=sys.stderr)
    return 1 if findings else 0
