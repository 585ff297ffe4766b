"""`psw export-hf` / `psw import-hf`: publish the marts as HF dataset splits; load a published library."""

from __future__ import annotations

import os
from pathlib import Path

from warehouse.db import UserError, db_path


def add_parser(sub) -> None:
    p = sub.add_parser("export-hf", help="export the marts as Hugging Face dataset splits (parquet + card)",
                       description="Write one parquet file per split (marts, one examples split per "
                       "measurement, candidates, activation marts with rows) and a README.md dataset card "
                       "to --out. Deterministic: the same warehouse gives the same bytes.")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder to write (replaced whole)")
    p.add_argument("--measurement", nargs="+", action="extend", metavar="ID",
                   help="export only these measurements (default: all)")
    p.add_argument("--push", metavar="REPO_ID", help="then upload the folder to this HF dataset repo (needs HF_TOKEN)")
    p.add_argument("--layout", choices=["psw", "upstream"], default="psw",
                   help="psw (default): this project's splits; upstream: the upstream library's own HF folder "
                        "(parquet/{main,template_pair_cells,persona_pairs,examples,controls}), one measurement")
    p.set_defaults(func=run_export)

    p = sub.add_parser("import-hf", help="load a published library (folder or HF repo id) into the raw layer",
                       description="Append a library exported by `psw export-hf`, or the upstream persona "
                       "steering template library layout, to the raw tables; then run `psw build`.")
    p.add_argument("source", metavar="DIR_OR_REPO_ID", help="a local export folder, or a HF dataset repo id")
    p.add_argument("--measurement", metavar="ID",
                   help="upstream's layouts: the measurement it is (default: its template_pair_cells' "
                        "measurement_id, else the folder or repo name)")
    p.add_argument("--max-rows", type=int, metavar="N",
                   help="refuse an import of more rows in all (default 1000000; env PSW_IMPORT_MAX_ROWS)")
    p.add_argument("--max-bytes", metavar="SIZE",
                   help="refuse an import that expands past SIZE in memory, e.g. 2GB (default 512MB; "
                        "env PSW_IMPORT_MAX_BYTES)")
    p.set_defaults(func=run_import)


def run_export(args) -> int:
    from hf.export import export_library, push_folder

    if args.layout == "upstream":
        from hf.upstream_hf_export import export_upstream

        splits = export_upstream(db_path(args.db), args.out, args.measurement)
        print(f"{args.out}: wrote {len(splits)} splits ({sum(s.table.num_rows for s in splits)} rows) in "
              f"upstream's layout and README.md")
    else:
        report = export_library(db_path(args.db), args.out, args.measurement)
        print(report.summary())
    if args.push:
        if not os.environ.get("HF_TOKEN"):
            raise UserError(f"--push {args.push}: HF_TOKEN is not set; nothing uploaded "
                            f"(the export is in {args.out})")
        url = push_folder(args.out, args.push, os.environ["HF_TOKEN"])
        print(f"pushed {args.out} to {url}")
    return 0


def run_import(args) -> int:
    from hf.import_checks import Caps
    from hf.importer import import_library

    report = import_library(db_path(args.db), args.source, Caps.from_settings(args.max_rows, args.max_bytes),
                            args.measurement)
    print(report.summary())
    return 0
