"""`psw ingest FILE...`: load inputs into the raw schema, each file whole or not at all."""

from __future__ import annotations

import sys
from pathlib import Path

from extract.imported import IMPORT_KINDS, ImportOptions, detect_kind, ingest_import
from ingest.measurements import MeasurementMeta
from ingest.read import KINDS
from warehouse.db import UserError, connect, db_path
from warehouse.errors import one_line

MAX_REJECTS_SHOWN = 20


def add_parser(sub) -> None:
    p = sub.add_parser("ingest", help="load candidates, exported examples or run artifacts into DuckDB",
                       description="Load files into the raw schema. The kind of each file is detected "
                       "from its content unless --kind says it.")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--kind", choices=KINDS + IMPORT_KINDS, help="skip detection: treat every FILE as this kind")
    p.add_argument("--measurement", help="measured sweep id (default: from the file name)")
    p.add_argument("--generator-model", help="generator model of a measurement whose files do not say")
    p.add_argument("--judge-model", action="append", default=[], help="judge model(s), repeatable")
    p.add_argument("--temperature", type=float, help="generation temperature of the measurement")
    p.add_argument("--seed", type=int, help="sampling seed of the measurement")
    g = p.add_argument_group("activation vectors and projection tables from other tools (extract/README.md)")
    g.add_argument("--model", metavar="ID", help="the model they belong to: a local folder or a cached hub id "
                   "(only its config is read, offline)")
    g.add_argument("--revision", help="hub revision of --model")
    g.add_argument("--trait", metavar="NAME", help="trait name (default: from the file name or its columns)")
    g.add_argument("--layer-offset", type=int, metavar="K", help="our layer = the file's index + K "
                   "(default: the format's own: -1 for persona_vectors, 0 for repeng GGUF and safetensors)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ingest.loader import ingest_file  # and with it pyarrow: not for every `psw` command's parser

    meta = MeasurementMeta(args.generator_model, args.judge_model, args.temperature, args.seed)
    imports = ImportOptions(args.model, args.revision, args.trait, args.layer_offset)
    failed = 0
    with connect(db_path(args.db)) as con:
        for path in args.files:
            kind = args.kind or detect_kind(path)
            if kind in IMPORT_KINDS:
                try:
                    print(ingest_import(con, path, kind, imports))
                except UserError as exc:
                    print(f"error: {one_line(exc)}", file=sys.stderr)
                    failed += 1
                continue
            try:
                report = ingest_file(con, path, args.kind, args.measurement, meta)
            except UserError as exc:
                print(f"error: {one_line(exc)}", file=sys.stderr)
                failed += 1
                continue
            if not report.rejects:
                print(report.summary())
                continue
            failed += 1
            for reject in report.rejects[:MAX_REJECTS_SHOWN]:
                where = f"{path}:{reject.line_no}" if reject.line_no else f"{path}"
                print(one_line(f"{where}: {reject.reason}"), file=sys.stderr)
            hidden = len(report.rejects) - MAX_REJECTS_SHOWN
            if hidden > 0:
                print(f"... and {hidden} more (select * from raw.rejects)", file=sys.stderr)
            n_lines = sum(1 for reject in report.rejects if reject.line_no)
            what = (f"{n_lines} malformed of {report.n_records or n_lines} records" if n_lines
                    else "refused as a whole (above)")  # a file-level refusal: metadata, protocol, shape
            print(f"error: {one_line(path)}: {what}; nothing loaded from this file", file=sys.stderr)
    return 2 if failed else 0
