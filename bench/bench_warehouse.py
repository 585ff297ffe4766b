"""Warehouse scale benchmark: ingest + build at 10k, 100k and 1M pilot-shaped pairs.

Scales the published pilot's 64 exported pairs by giving each copy its own
template variant (so cells multiply as in a real sweep), then times, each in a
fresh process, `psw ingest`, `psw build`, and adding one small run (64 pairs,
a new measurement) to the scaled warehouse followed by `psw build`. Peak memory
is the largest resident set of any process in the step (ru_maxrss of children).

    python bench/bench_warehouse.py                 # 10k, 100k, 1M
    python bench/bench_warehouse.py --sizes 100000  # one size
Targets (2-core machine): 100k ingest+build < 15 s and < 1.5 GB; 1M < 45 s and
< 3 GB; one small run added to 1M rebuilds in < 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PILOT = ROOT.parent / "shared" / "reference" / "pilot-v2-seed23" / "v2_pilot_seed23_examples.jsonl"
PSW = [sys.executable, "-m", "psw.cli"]


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
    """Seconds and peak RSS (GB) of one command run in a fresh wrapper process."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "run = subprocess.run(sys.argv[1:], capture_output=True, text=True); rc = run.returncode; "
               "sys.stderr.write(run.stdout[-3000:] + run.stderr[-3000:] if rc else ''); "
               "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", wrapper, *args], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    if out.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{out.stderr[-4000:]}")
    seconds, kb = out.stdout.split()
    return float(seconds), int(kb) / 1024 / 1024


def bench(n_pairs: int, work: Path) -> dict:
    # each size in its own folder under the default file name, as a user's warehouses are
    data, db = work / f"scaled_{n_pairs}_examples.jsonl", work / str(n_pairs) / "warehouse.duckdb"
    db.parent.mkdir(parents=True, exist_ok=True)
    write_scaled(data, n_pairs)
    ingest_s, ingest_gb = timed([*PSW, "--db", str(db), "ingest", str(data), "--measurement", "scaled"])
    build_s, build_gb = timed([*PSW, "--db", str(db), "build", "--quiet"])
    small = work / "small_run_examples.jsonl"
    shutil.copy(PILOT, small)
    add_ingest_s, _ = timed([*PSW, "--db", str(db), "ingest", str(small), "--measurement", "small_run"])
    add_build_s, add_gb = timed([*PSW, "--db", str(db), "build", "--quiet"])
    data.unlink()
    return {"pairs": n_pairs, "ingest_s": ingest_s, "build_s": build_s, "total_s": ingest_s + build_s,
            "peak_gb": max(ingest_gb, build_gb), "add_small_run_s": add_ingest_s + add_build_s,
            "add_small_run_peak_gb": add_gb, "db_gb": db.stat().st_size / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temp dir, removed after)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="psw-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    from psw.commands.build import PARSE_CACHE
    saved = (PARSE_CACHE / "warehouse.duckdb.msgpack").exists()
    print(f"dbt's parse of the project: {'saved by an earlier build, reused' if saved else 'none saved yet: the first build parses fully (~5 s)'}")
    print(f"{'pairs':>9} {'ingest s':>9} {'build s':>8} {'total s':>8} {'peak GB':>8} {'+run s':>7} {'db GB':>6}")
    try:
        for size in map(int, args.sizes.split(",")):
            r = bench(size, work)
            print(f"{r['pairs']:>9} {r['ingest_s']:>9.1f} {r['build_s']:>8.1f} {r['total_s']:>8.1f} "
                  f"{r['peak_gb']:>8.2f} {r['add_small_run_s']:>7.1f} {r['db_gb']:>6.2f}", flush=True)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
