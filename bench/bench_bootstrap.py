"""What the cell-score bootstrap costs a build: int_cell_scores rebuilt with and without it.

Ingests N pilot-shaped pairs once (bench_warehouse.write_scaled: each copy of the pilot's 64
pairs is its own template variant, so cells have 4 pairs, as in the pilot), builds once, then
alternates full rebuilds of `int_cell_scores` with `bootstrap_replicates: 0` (the floor: the
same model, jackknife included, no replicates) and with the default replicates, each in a fresh
process. Reports the medians, their difference (the bootstrap's own seconds) and their ratio.

    python bench/bench_bootstrap.py --pairs 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_warehouse import PSW, timed, write_scaled  # noqa: E402

REBUILD = ["build", "--quiet", "--force", "--full-refresh", "--select", "int_cell_scores"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="rebuilds of each kind; figures are medians")
    parser.add_argument("--replicates", type=int, default=200, help="bootstrap replicates (default: dbt's 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="psw-bench-bootstrap-") as tmp:
        work = Path(tmp)
        data, db = work / "scaled_examples.jsonl", work / "warehouse.duckdb"
        write_scaled(data, args.pairs)
        timed([*PSW, "--db", str(db), "ingest", str(data), "--measurement", "scaled"])
        timed([*PSW, "--db", str(db), "build", "--quiet"])
        without, with_ = [], []
        for _ in range(args.repeat):
            without.append(timed([*PSW, "--db", str(db), *REBUILD, "--vars", "{bootstrap_replicates: 0}"])[0])
            with_.append(timed([*PSW, "--db", str(db), *REBUILD, "--vars",
                                f"{{bootstrap_replicates: {args.replicates}}}"])[0])
    floor, cost = statistics.median(without), statistics.median(with_)
    print(f"{args.pairs} pairs ({args.pairs // 4} cells), int_cell_scores rebuilt, medians of {args.repeat}:")
    print(f"  without bootstrap {floor:.2f} s, with {args.replicates} replicates {cost:.2f} s: "
          f"+{cost - floor:.2f} s ({cost / floor:.2f}x)")


if __name__ == "__main__":
    main()
