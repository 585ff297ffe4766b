"""`psw export-stats`: upstream's per-run stats files (examples, template-pair and template stats)."""

from __future__ import annotations

from pathlib import Path

from warehouse.db import db_path


def add_parser(sub) -> None:
    p = sub.add_parser("export-stats", help="write upstream's stats files (examples, template_pair_stats, "
                                            "template_stats; jsonl and csv) from the marts",
                       description="Write, per measurement, upstream's <M>_examples.jsonl, "
                       "<M>_template_pair_stats.{jsonl,csv} and <M>_template_stats.{jsonl,csv}: the keys, "
                       "key order and rounding of upstream's export_persona_template_stats.py, numbers from "
                       "the marts (run `psw build` first). Scanned for secrets before anything is written.")
    p.add_argument("--out", required=True, type=Path, metavar="DIR",
                   help="folder to write (a previous export-stats folder is replaced)")
    p.add_argument("--measurement", nargs="+", action="extend", metavar="ID",
                   help="export only these measurements (default: all)")
    p.set_defaults(func=run)


def run(args) -> int:
    from hf.upstream_stats import export_stats

    names = export_stats(db_path(args.db), args.out, args.measurement)
    print(f"wrote {len(names)} files to {args.out}: {', '.join(names)}")
    return 0
