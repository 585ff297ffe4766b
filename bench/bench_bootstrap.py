"""What the cell-score bootstrap adds to a first build (issue 22: <= 20% at 100k pairs).

Ingests N pilot-shaped pairs once (bench_warehouse.write_scaled: each copy of the pilot's 64
pairs is its own template variant, so cells have 4 pairs, as in the pilot), then alternates first
builds of copies of that warehouse with `bootstrap_replicates: 0` (no replicates: every cell gets
the jackknife-t interval) and with the default replicates, each in a fresh process. One warm-up
build of each kind first, uncounted (a new --vars is a new dbt parse, saved for the next build).
Reports the medians of the whole build (wall and CPU seconds) and of `int_cell_scores` alone
(dbt's own timing of the node, from its log), their differences and the ratio to the build
without replicates. psw's resident server is off (PSW_SERVER=off): each build is a program of its
own, whose CPU seconds are the build's (a served build's work runs in the server's child, which
this process does not see: its CPU column read ~0.07 s).

    python bench/bench_bootstrap.py --pairs 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_warehouse import PSW, timed, write_scaled  # noqa: E402

os.environ["PSW_SERVER"] = "off"  # a program per build: its CPU is the build's (module docstring)

NODE = re.compile(r"OK created sql \w+ model intermediate\.int_cell_scores \.* \[OK in ([\d.]+)s\]")


def first_build(ingested: Path, work: Path, replicates: int) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and int_cell_scores' seconds of a first build of a copy of `ingested`."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    db = work / ingested.name
    shutil.copy(ingested, db)
    seconds, _, _, cpu = timed([*PSW, "--db", str(db), "build", "--quiet", "--vars",
                                f"{{bootstrap_replicates: {replicates}}}"])
    log = (work / f".{db.name}.dbt" / "logs" / "dbt.log").read_text()
    return seconds, cpu, float(NODE.findall(log)[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="builds of each kind; figures are medians")
    parser.add_argument("--replicates", type=int, default=200, help="bootstrap replicates (default: dbt's 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="psw-bench-bootstrap-") as tmp:
        work = Path(tmp)
        data, ingested = work / "scaled_examples.jsonl", work / "ingested" / "warehouse.duckdb"
        ingested.parent.mkdir()
        write_scaled(data, args.pairs)
        timed([*PSW, "--db", str(ingested), "ingest", str(data), "--measurement", "scaled"])
        data.unlink()
        kinds = {"without": 0, "with": args.replicates}
        for replicates in kinds.values():  # warm-up: each --vars parses once
            first_build(ingested, work / "build", replicates)
        runs: dict[str, list[tuple[float, float, float]]] = {kind: [] for kind in kinds}
        for _ in range(args.repeat):
            for kind, replicates in kinds.items():
                runs[kind].append(first_build(ingested, work / "build", replicates))
    (wall0, cpu0, node0), (wall1, cpu1, node1) = (
        tuple(statistics.median(run[i] for run in runs[kind]) for i in range(3)) for kind in kinds)
    print(f"{args.pairs} pairs ({args.pairs // 4} cells), a first build, medians of {args.repeat}:")
    print(f"  build wall: without replicates {wall0:.2f} s, with {args.replicates} {wall1:.2f} s: "
          f"+{wall1 - wall0:.2f} s ({(wall1 - wall0) / wall0:+.0%}; target <= +20%)")
    print(f"  build CPU:  without {cpu0:.2f} s, with {cpu1:.2f} s: +{cpu1 - cpu0:.2f} s ({(cpu1 - cpu0) / cpu0:+.0%})")
    print(f"  int_cell_scores alone: without {node0:.2f} s, with {node1:.2f} s: +{node1 - node0:.2f} s")


if __name__ == "__main__":
    main()
