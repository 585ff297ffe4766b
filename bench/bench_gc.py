"""Python's garbage collector during a build, measured where psw's server runs one: in a forked child.

One process imports what psw's server imports (psw.server._preload) and builds a warehouse from the
scaled pilot; then, round after round, it forks a child for each of two modes, alternating their order,
and each child runs `psw build --quiet --force` on a fresh copy of that warehouse and reports its wall
and CPU seconds and page faults:
- `collected`: the collector on throughout, as before this release (dbt_runner's pause undone);
- `paused`: as a server's child runs a command now (psw.server.collector_off, and dbt_runner._gc_paused).
Medians are printed per mode. Both modes run this checkout's code, so nothing but the collector differs.
On a machine whose speed moves minute to minute (bench_ab.py runs the same code -29% and -1% apart within
15 minutes), CPU seconds of interleaved children are the steadier figure.

    python bench/bench_gc.py --pairs 64 --rounds 8
    python bench/bench_gc.py --pairs 1000000 --rounds 3 --add-run   # a 64-pair run added to a 1M warehouse

A forked child exits without Python's teardown (as the server's do); dbt's manifest holds a named
semaphore, so multiprocessing's tracker may warn of leaked semaphores when this script ends.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ["PSW_SERVER"] = "off"
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

from bench_warehouse import PILOT, write_scaled  # noqa: E402

MODES = ("collected", "paused")


def child(mode: str, db: Path, small: Path | None, out: int) -> None:
    """Run in a forked child: set the mode, build, write (wall s, CPU s, page faults) to `out`, exit."""
    from psw import server
    from psw.cli import main
    from warehouse import dbt_runner

    code = 1
    try:
        if mode == "collected":
            gc.enable()
            dbt_runner._gc_paused = contextlib.nullcontext
        else:
            server.collector_off()
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            if small is not None:
                main(["--db", str(db), "ingest", str(small), "--measurement", "small_run"])
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start, cpu = time.perf_counter(), time.process_time()
            code = main(["--db", str(db), "build", "--quiet"] + ([] if small is not None else ["--force"]))
        os.write(out, json.dumps([time.perf_counter() - start, time.process_time() - cpu,
                                  resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults]).encode())
    finally:
        os._exit(code)


def one(mode: str, template: Path, work: Path, small: Path | None) -> list[float]:
    db = work / mode / "warehouse.duckdb"
    shutil.rmtree(db.parent, ignore_errors=True)
    db.parent.mkdir(parents=True)
    shutil.copy(template, db)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        child(mode, db, small, write)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        report = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not report or os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the {mode} build failed (exit {os.waitstatus_to_exitcode(status)})")
    return json.loads(report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--add-run", action="store_true",
                        help="time adding the pilot's 64 pairs as a new measurement and building, not a forced build")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temp dir, removed after)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="psw-bench-gc-"))
    work.mkdir(parents=True, exist_ok=True)
    from psw.cli import main as psw
    from psw.server import _preload

    try:
        data = work / "pairs.jsonl"
        write_scaled(data, args.pairs)
        template = work / "template" / "warehouse.duckdb"
        shutil.rmtree(template.parent, ignore_errors=True)
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            if psw(["--db", str(template), "ingest", str(data), "--measurement", "scaled"]) or \
                    psw(["--db", str(template), "build", "--quiet"]):
                raise SystemExit("could not build the template warehouse")
        data.unlink()
        small = None
        if args.add_run:
            small = work / "small_run_examples.jsonl"
            shutil.copy(PILOT, small)
        _preload()
        gc.collect()
        results: dict[str, list[list[float]]] = {mode: [] for mode in MODES}
        for r in range(args.rounds):
            for mode in MODES if r % 2 == 0 else MODES[::-1]:
                results[mode].append(one(mode, template, work, small))
                print(f"  round {r + 1} {mode}: " + ", ".join(f"{v:.2f}" for v in results[mode][-1]),
                      file=sys.stderr, flush=True)
        step = "add a 64-pair run, build" if args.add_run else "forced build"
        print(f"{args.pairs} pairs, {step}, forked children, medians of {args.rounds} interleaved rounds")
        print(f"{'mode':<10} {'wall s':>8} {'CPU s':>8} {'page faults':>12}")
        for mode, rows in results.items():
            wall, cpu, faults = (statistics.median(row[i] for row in rows) for i in range(3))
            print(f"{mode:<10} {wall:8.2f} {cpu:8.2f} {faults:12,.0f}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
