"""Benchmark `psw collect` against the loopback fake server (no added latency).

    python bench/bench_collect.py [--templates 8 --pairs 8 --scenarios 8 --concurrency 64]

Phase 1 (live): a fresh warehouse, every call goes over HTTP to the fake server,
which runs in its own process. Phase 2 (replay): the same plan under a new
measurement id, so every call is answered from the raw.api_calls cache (the
server must see zero requests) while pairs and judgments are written again.
Prints calls per second for both. Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "collect"))

from collect_helpers import KEY_ENV, SECRET, collect_args, write_candidates  # noqa: E402
from psw.cli import main as collect_main  # noqa: E402


def server_requests(base_url: str) -> int:
    with urllib.request.urlopen(base_url + "/stats") as r:
        return json.load(r)["requests"]


def timed(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of this process, summary printed)."""
    out = io.StringIO()
    t0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(out):
        rc = collect_main(argv)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    if rc != 0:
        raise SystemExit(f"collect failed with exit {rc}:\n{out.getvalue()}")
    return elapsed, cpu, out.getvalue()


def load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--templates", type=int, default=8)
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--scenarios", type=int, default=16)
    ap.add_argument("--judges", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=64)
    a = ap.parse_args()

    os.environ[KEY_ENV] = SECRET
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "collect" / "fakeserver.py")],
                            stdout=subprocess.PIPE, text=True)
    try:
        base_url = proc.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            files = write_candidates(tmp / "cand", a.templates, a.pairs, a.scenarios)
            db = tmp / "bench.duckdb"
            judges = [f"judge/{i}" for i in range(a.judges)]
            calls = files["n"] * (2 + 4 * a.judges + 2)   # generations, axis calls in both orders, style + confound
            common = ["--concurrency", str(a.concurrency)]

            r0 = server_requests(base_url)
            load_before = load_average()
            live_s, live_cpu, live_out = timed(collect_args(db, base_url, files, *common, "--measurement",
                                                  "bench-live", judges=judges))
            live_req = server_requests(base_url) - r0

            r1 = server_requests(base_url)
            replay_s, replay_cpu, replay_out = timed(collect_args(db, base_url, files, *common,
                                                      "--measurement", "bench-replay",
                                                      judges=judges))
            replay_req = server_requests(base_url) - r1

            print(f"plan: {files['n']} pairs x {2 + 4 * a.judges + 2} calls = {calls} calls, "
                  f"concurrency {a.concurrency}, cores {os.cpu_count()}")
            print(f"live:   {calls} calls in {live_s:.2f}s = {calls / live_s:,.0f} calls/s "
                  f"({live_req} HTTP requests; client CPU {1000 * live_cpu / calls:.2f} ms/call)")
            print(f"replay: {calls} calls in {replay_s:.2f}s = {calls / replay_s:,.0f} calls/s "
                  f"({replay_req} HTTP requests; client CPU {1000 * replay_cpu / calls:.2f} ms/call)")
            print(f"load average before/after: {load_before} / {load_average()}")
            print("(wall time of the whole command: planning, warehouse writes and final flush "
                  "included)")
    finally:
        proc.terminate()
        proc.wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
