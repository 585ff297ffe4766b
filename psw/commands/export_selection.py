"""`psw export-selection`: the training set the chosen cells support (JSONL + manifest)."""

from __future__ import annotations

import argparse
from pathlib import Path

from warehouse.db import db_path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export-selection", help="write the training pairs of chosen cells (DPO and steering JSONL + manifest)",
        description="Write the judged pairs of the chosen cells (default: the recommended cells) to DIR: "
        "dpo.jsonl (prompt/chosen/rejected), steering.jsonl (the exact messages of each pole, then its "
        "completion) and manifest.json (cells, filters, counts, sha256). Deterministic: the same warehouse "
        "and options give the same bytes. DIR is replaced whole.")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder to write (replaced whole)")
    p.add_argument("--cell", nargs="+", action="extend", default=[], metavar="ID",
                   help="export these cells (default: every recommended cell)")
    p.add_argument("--measurement", nargs="+", action="extend", default=[], metavar="ID",
                   help="only cells of these measurements")
    p.add_argument("--strict", action=argparse.BooleanOptionalAction, default=True,
                   help="only strict_pass pairs (default); --no-strict keeps every pair judged positive")
    p.add_argument("--keep-per-source", type=int, metavar="N",
                   help="at most N pairs per scenario source per cell (largest axis_delta first; with "
                   "--format upstream: per selection, best overall_score first)")
    p.add_argument("--agreement", action="store_true",
                   help="drop the pairs pair_screening flags (activations disagree with the judges) at the "
                   "cell's recommended layer (needs `psw extract vectors` and `psw build`)")
    p.add_argument("--layer", type=int, help="with --agreement: screen at this layer instead")
    p.add_argument("--effective-only", action="store_true",
                   help="keep only pairs meeting persona_vectors' effective-pair rule (positive trait >= 50, "
                   "negative < 50, both coherent; pair_response_scores: needs `psw extract judge --measurement`)")
    up = p.add_argument_group("upstream's format (export_selections.py)")
    up.add_argument("--format", choices=("psw", "upstream"), default="psw",
                    help="psw: the DIR of dpo/steering JSONL and a manifest (default); upstream: one JSONL FILE "
                    "(--out) with export_selections.py's keys and // provenance, from one anchored --measurement")
    up.add_argument("--top-n", type=int, default=50, help="upstream: the top N pairs by overall_score (default 50)")
    up.add_argument("--strict-only", action="store_true",
                    help="upstream: the top N strict-pass pairs; refused when fewer than N pass")
    up.add_argument("--stage-a", metavar="M",
                    help="upstream: a two-stage selection. M is the stage A measurement; its winner (mart "
                    "stage_screens: strict_pass_rate, then mean_axis_delta) fixes the cell, --measurement is "
                    "stage B, and <name>_summary.json (n_selected, source_counts, stage_a, stage_b_summary) "
                    "is written beside the JSONL")
    p.set_defaults(func=run)


def run(args) -> int:
    from hf.selection import SelectionOptions, export_selection

    if args.format == "upstream":
        return _upstream(args)
    from warehouse.errors import UserError
    for flag, given in (("--stage-a", args.stage_a), ("--strict-only", args.strict_only)):
        if given:
            raise UserError(f"{flag}: only with --format upstream")

    options = SelectionOptions(cells=tuple(args.cell), measurements=tuple(args.measurement), strict=args.strict,
                               keep_per_source=args.keep_per_source, agreement=args.agreement, layer=args.layer,
                               effective=args.effective_only)
    report = export_selection(db_path(args.db), args.out, options)
    print(report.summary())
    return 0


def _upstream(args) -> int:
    from hf.selection_upstream import export_upstream
    from psw.cli import version
    from warehouse.errors import UserError

    for flag, given in (("--cell", args.cell), ("--agreement", args.agreement), ("--layer", args.layer is not None),
                        ("--effective-only", args.effective_only), ("--no-strict", not args.strict)):
        if given:
            raise UserError(f"{flag}: not with --format upstream (it ranks one measurement's pairs by overall_score)")
    if len(args.measurement) > 1:
        raise UserError("--measurement: --format upstream exports one measurement")
    if args.stage_a and not args.measurement:
        raise UserError("--stage-a: name stage B with --measurement (the pool the winner was measured over)")
    print(export_upstream(db_path(args.db), args.out, (args.measurement or [None])[0], args.top_n,
                          args.strict_only, version().split(" (")[0], stage_a=args.stage_a,
                          keep_per_source=args.keep_per_source))
    return 0
