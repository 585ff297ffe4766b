"""Dashboard query latency on a 100k-pair warehouse: the exact functions the pages call.

Scales the published pilot's 64 pairs as bench_warehouse.py does (each copy its own template
variant, so cells multiply: 100k pairs -> 25k cells of 4 pairs), ingests and builds once, then
times each query uncached (a fresh read-only connection per call, as on a page's first load
after a rebuild), `--reps` times each, and prints p50 / p95 in milliseconds.

    python bench/bench_dashboard.py                      # build /tmp/psw-bench-dash/w100000.duckdb, then time
    python bench/bench_dashboard.py --reuse              # time against the existing one
Target: the Cells query and each of the Cell page's queries at p95 < 150 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_warehouse import write_scaled  # noqa: E402

TARGET_MS = 150


def build(db: Path, n_pairs: int) -> None:
    data = db.with_name(f"scaled_{n_pairs}_examples.jsonl")
    print(f"writing {n_pairs} pairs, ingesting and building {db} ...", flush=True)
    write_scaled(data, n_pairs)
    psw = [sys.executable, "-m", "psw.cli", "--db", str(db)]
    for step in (["ingest", str(data), "--measurement", "scaled"], ["build", "--quiet"]):
        started = time.perf_counter()
        subprocess.run(psw + step, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        print(f"  psw {step[0]}: {time.perf_counter() - started:.1f} s", flush=True)
    data.unlink()


def timed(fn, reps: int) -> list[float]:
    times = []
    for i in range(reps):
        started = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/psw-bench-dash"))
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--reuse", action="store_true", help="time against an existing warehouse")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    db = args.work / f"w{args.pairs}.duckdb"
    if not (args.reuse and db.exists()):
        db.unlink(missing_ok=True)
        build(db, args.pairs)
    os.environ["PSW_DB"] = str(db)
    from dashboard import queries  # noqa: E402  (reads PSW_DB per call)

    queries.CACHE = False
    all_filters = queries.CellFilters()
    pairs = queries.filter_options()["persona_pairs"]
    filtered = queries.CellFilters(persona_pairs=(pairs[0],), template="thinking", min_n=3, score_min=1.0)
    cell_ids = list(queries.cell_choices(500)["cell_id"])
    random.seed(23)
    picks = [random.choice(cell_ids) for _ in range(args.reps)]
    n_cells = queries.count_cells(all_filters)
    n_pairs = int(queries.query("select count(*) as n from examples")["n"].iloc[0])
    print(f"warehouse: {n_pairs} pairs, {n_cells} cells; {args.reps} reps per query, uncached\n")

    cases = {
        "Cells: cells() top 500 (the default)": lambda i: queries.cells(all_filters, "score", True, 500),
        "Cells: cells() top 1000": lambda i: queries.cells(all_filters, "score", True, 1000),
        "Cells: cells() filtered, top 500": lambda i: queries.cells(filtered, "mean_axis_delta", False, 500),
        "Cells: count_cells()": lambda i: queries.count_cells(all_filters),
        "Cells: filter_options()": lambda i: queries.filter_options(),
        "Cells: cell_columns()": lambda i: queries.cell_columns(),
        "Cell: cell_summary()": lambda i: queries.cell_summary(picks[i]),
        "Cell: cell_factors()": lambda i: queries.cell_factors(picks[i]),
        "Cell: cell_pairs()": lambda i: queries.cell_pairs(picks[i]),
        "Cell: cell_style_deltas()": lambda i: queries.cell_style_deltas(picks[i]),
        "Cell: cell_ratings()": lambda i: queries.cell_ratings(picks[i]),
        "On/off axis: on_off_axis()": lambda i: queries.on_off_axis(all_filters),
        "Cells page, all its queries": lambda i: (queries.filter_options(), queries.cell_columns(),
                                                  queries.cells(all_filters, "score", True, 500),
                                                  queries.count_cells(all_filters)),
        "Cell page, all its queries": lambda i: (queries.cell_summary(picks[i]), queries.cell_factors(picks[i]),
                                                 queries.cell_pairs(picks[i]), queries.cell_style_deltas(picks[i]),
                                                 queries.cell_ratings(picks[i])),
    }
    print(f"{'query':<38} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  under {TARGET_MS} ms at p95")
    failed = []
    for name, fn in cases.items():
        fn(0)  # warm the OS file cache once, as a running dashboard would be
        times = timed(fn, args.reps)
        p50, p95 = statistics.median(times), statistics.quantiles(times, n=20)[-1]
        ok = p95 < TARGET_MS
        failed += [] if ok or not name.startswith(("Cell: ", "Cells: cells() top 500")) else [name]
        print(f"{name:<38} {p50:>8.1f} {p95:>8.1f} {max(times):>8.1f}  {'yes' if ok else 'NO'}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
