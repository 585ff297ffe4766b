"""Warehouse scale benchmark: ingest + build at 10k, 100k and 1M pilot-shaped pairs, against a floor.

Scales the published pilot's 64 exported pairs by giving each copy its own template
variant (so cells multiply as in a real sweep). Per size, each step in a fresh process:
- floor: DuckDB alone reads the same file (`read_json`) and groups it by cell: the least
  any loader + deriver could take on this machine, measured in the same run;
- `psw ingest` of the file into a new warehouse, then `psw build` (a first build);
- a no-op `psw build` (nothing changed);
- adding one small run (the pilot's 64 pairs, a new measurement): `psw ingest` + `psw build`.
Peak memory is the largest resident set of any process in the step (ru_maxrss of children).
With --repeat N each figure is the median of N runs (a fresh warehouse each time).

    python bench/bench_warehouse.py                            # 10k, 100k, 1M
    python bench/bench_warehouse.py --sizes 100000 --repeat 3  # one size, medians of 3
Targets (issue 14, 2-core machine): 100k ingest+build <= 6 s; 1M <= 30 s (<= 6x the floor)
and peak <= 2 GB; adding a 64-pair run to 1M <= 4 s; a no-op build <= 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PILOT = ROOT.parent / "shared" / "reference" / "pilot-v2-seed23" / "v2_pilot_seed23_examples.jsonl"
PSW = [sys.executable, "-m", "psw.cli"]
# the floor: one DuckDB pass that types every record and groups the pairs by cell
FLOOR = ("import duckdb, os, sys; con = duckdb.connect(config={'memory_limit': os.environ.get('PSW_MEMORY_LIMIT', '2GB')}); "
         "con.execute(\"select template, persona_pair, count(*), avg(axis_delta), avg(off_axis_problem) "
         "from read_json(?, format='newline_delimited') group by all\", [sys.argv[1]]).fetchall()")
TARGETS = {100_000: ("total_s", 6.0), 1_000_000: ("total_s", 30.0)}


def write_scaled(path: Path, n_pairs: int) -> None:
    rows = [json.loads(line) for line in PILOT.open()]
    with path.open("w") as out:
        written, copy = 0, 0
        while written < n_pairs:
            for row in rows:
                if written == n_pairs:
                    break
                out.write(json.dumps({**row, "template": f"{row['template']} [v{copy}]"}) + "\n")
                written += 1
            copy += 1


def timed(args: list[str]) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one command run in a fresh wrapper process."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "run = subprocess.run(sys.argv[1:], capture_output=True, text=True); rc = run.returncode; "
               "sys.stderr.write(run.stdout[-3000:] + run.stderr[-3000:]); "
               "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", wrapper, *args], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    if out.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{out.stderr[-4000:]}")
    seconds, kb = out.stdout.split()
    return float(seconds), int(kb) / 1024


def bench_once(n_pairs: int, data: Path, work: Path) -> dict:
    # each run in its own folder under the default file name, as a user's warehouses are
    db = work / str(n_pairs) / "warehouse.duckdb"
    shutil.rmtree(db.parent, ignore_errors=True)
    db.parent.mkdir(parents=True)
    floor_s, floor_mb = timed([sys.executable, "-c", FLOOR, str(data)])
    ingest_s, ingest_mb = timed([*PSW, "--db", str(db), "ingest", str(data), "--measurement", "scaled"])
    build_s, build_mb = timed([*PSW, "--db", str(db), "build", "--quiet"])
    noop_s, _ = timed([*PSW, "--db", str(db), "build", "--quiet"])
    small = work / "small_run_examples.jsonl"
    shutil.copy(PILOT, small)
    add_ingest_s, _ = timed([*PSW, "--db", str(db), "ingest", str(small), "--measurement", "small_run"])
    add_build_s, add_mb = timed([*PSW, "--db", str(db), "build", "--quiet"])
    return {"floor_s": floor_s, "ingest_s": ingest_s, "build_s": build_s, "total_s": ingest_s + build_s,
            "ratio": (ingest_s + build_s) / floor_s, "peak_mb": max(ingest_mb, build_mb), "floor_mb": floor_mb,
            "add_ingest_s": add_ingest_s, "add_build_s": add_build_s, "add_s": add_ingest_s + add_build_s,
            "add_peak_mb": add_mb, "noop_s": noop_s, "db_gb": db.stat().st_size / 1e9}


def bench(n_pairs: int, work: Path, repeat: int) -> dict:
    data = work / f"scaled_{n_pairs}_examples.jsonl"
    write_scaled(data, n_pairs)
    runs = [bench_once(n_pairs, data, work) for _ in range(repeat)]
    data.unlink()
    return {"pairs": n_pairs, **{key: statistics.median(r[key] for r in runs) for key in runs[0]}}


def verdict(r: dict) -> str:
    misses = []
    if r["pairs"] in TARGETS and r["total_s"] > TARGETS[r["pairs"]][1]:
        misses.append(f"total > {TARGETS[r['pairs']][1]:g} s")
    if r["pairs"] == 1_000_000:
        misses += ["peak > 2 GB"] * (r["peak_mb"] > 2048) + ["+run > 4 s"] * (r["add_s"] > 4)
        misses += ["total > 6x floor"] * (r["ratio"] > 6)
    misses += ["no-op > 3 s"] * (r["noop_s"] > 3)
    return "missed: " + ", ".join(misses) if misses else "met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; figures are medians")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temp dir, removed after)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="psw-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    from psw.commands.build import PARSE_CACHE
    saved = (PARSE_CACHE / "warehouse.duckdb.msgpack").exists()
    print(f"dbt's parse of the project: {'saved by an earlier build, reused' if saved else 'none saved yet: the first build parses fully (~5 s)'}")
    print(f"{'pairs':>9} {'floor s':>8} {'ingest s':>9} {'build s':>8} {'total s':>8} {'x floor':>8} {'peak MB':>8} "
          f"{'+run s':>7} {'(ingest':>8} {'build)':>7} {'no-op s':>8} {'db GB':>6}  targets")
    try:
        for size in map(int, args.sizes.split(",")):
            r = bench(size, work, args.repeat)
            print(f"{r['pairs']:>9} {r['floor_s']:>8.1f} {r['ingest_s']:>9.1f} {r['build_s']:>8.1f} {r['total_s']:>8.1f} "
                  f"{r['ratio']:>8.1f} {r['peak_mb']:>8.0f} {r['add_s']:>7.1f} {r['add_ingest_s']:>8.1f} "
                  f"{r['add_build_s']:>7.1f} {r['noop_s']:>8.1f} {r['db_gb']:>6.2f}  {verdict(r)}", flush=True)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
