"""Warehouse scale benchmark: psw against the script it replaces and a DuckDB floor, at 64, 100k, 1M pairs.

Scales the published pilot's 64 exported pairs by giving each copy its own template
variant (so cells multiply as in a real sweep). Per size, each step in a fresh process:
- floor: DuckDB alone reads the same file (`read_json`) and groups it by cell: the least
  any loader + deriver could take on this machine, measured in the same run;
- peer: upstream's stats export, re-implemented in plain Python (`bench/peer_template_stats.py`,
  which reproduces the pilot's published stats), on the same file;
- `psw ingest` of the file into a new warehouse, then `psw build` (a first build);
- a no-op `psw build` (nothing changed);
- adding one small run (the pilot's 64 pairs, a new measurement): `psw ingest` + `psw build`.
`cpu s` is the CPU time (user + system) the step's processes used: on a loaded machine it moves
far less than the wall seconds, so its ratio to the peer's is the steadier comparison.
Peak memory is the largest resident set of any process in the step (ru_maxrss of children).
`nodes` is what the first build ran (dbt's models + tests + seeds, from its summary line).
Each figure is the median of --repeat runs (default 3; a fresh warehouse each time). On a
shared machine the seconds move with the load: read the ratios to the peer and the floor,
which were measured in the same run.

    python bench/bench_warehouse.py                              # 64, 100k, 1M
    python bench/bench_warehouse.py --sizes 64,100000 --repeat 3
    python bench/bench_warehouse.py --sizes 64 --server   # psw's commands run by its resident server
    python bench/bench_warehouse.py --run-metadata        # runs that name their generator (model matrix built)
psw's resident server (psw/server.py) is off unless --server is given: each psw step is then a fresh
program, as in every earlier figure. With --server one is started (and answering) before anything is
timed; a step's work then runs in the server's child, whose CPU and memory are not the step's
children's: those columns show the caller's alone and are not comparable (peak memory is not checked).
Targets (issue 22, 2-core machine): 64 pairs: ingest + first build <= 3 s and <= 90 nodes;
100k: ingest + build <= 0.5x the peer; 1M: <= 0.25x the peer and peak <= 2 GB; adding a
64-pair run to 1M <= 3 s; a no-op build <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
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
PEER = [sys.executable, str(ROOT / "bench" / "peer_template_stats.py")]
# pairs -> (seconds, x peer) ingest + first build must stay under (None: no target at that size)
TARGETS = {64: (3.0, None), 100_000: (None, 0.5), 1_000_000: (None, 0.25)}
MAX_NODES, MAX_NOOP_S, MAX_ADD_S, MAX_PEAK_MB = 90, 1.0, 3.0, 2048
# --run-metadata: each ingest names the run's generator and judge (the pilot's, as a collected run records
# them), so the model-matrix marts (template_model_scores, template_pair_model_scores) hold every cell;
# without it (the default, as in every earlier figure) the measurements name no generator and those marts
# stay empty
PILOT_RUN = ["--generator-model", "qwen/qwen3.5-27b", "--judge-model", "google/gemini-3.1-flash-lite-preview",
             "--temperature", "0", "--seed", "23"]
RUN_META: list[str] = []
SERVED = False  # --server: psw's steps run in its resident server's children (CPU and memory not seen here)


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


def timed(args: list[str]) -> tuple[float, float, str, float]:
    """Seconds, peak RSS (MB), the output's tail and CPU seconds (user + system) of one command
    run in a fresh wrapper process. CPU seconds move less than wall seconds on a shared machine."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "run = subprocess.run(sys.argv[1:], capture_output=True, text=True); rc = run.returncode; "
               "sys.stderr.write(run.stdout[-3000:] + run.stderr[-3000:]); u = resource.getrusage(resource.RUSAGE_CHILDREN); "
               "print(time.perf_counter() - t, u.ru_maxrss, u.ru_utime + u.ru_stime); sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", wrapper, *args], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"})
    if out.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{out.stderr[-4000:]}")
    seconds, kb, cpu = out.stdout.split()
    return float(seconds), int(kb) / 1024, out.stderr, float(cpu)


def nodes_run(output: str) -> float:
    """The models, tests and seeds dbt ran: from psw's summary line (`built N models, M seeds;
    X of Y tests passed` or `...; guarantees checked`, the guarantees then run inside the models),
    else from dbt's own last line `Done. PASS=.. NO-OP=n TOTAL=N` (N - n: the no-op nodes are the
    exposures, which run nothing)."""
    summary = re.search(r"built (\d+) models?(?:, (\d+) seeds?)?; (?:\d+ of (\d+) tests passed|guarantees checked)", output)
    if summary:
        return float(sum(int(g) for g in summary.groups() if g))
    totals = re.findall(r"NO-OP=(\d+) TOTAL=(\d+)", output)
    return float(int(totals[-1][1]) - int(totals[-1][0])) if totals else float("nan")


def bench_once(n_pairs: int, data: Path, work: Path) -> dict:
    # each run in its own folder under the default file name, as a user's warehouses are
    db = work / str(n_pairs) / "warehouse.duckdb"
    shutil.rmtree(db.parent, ignore_errors=True)
    db.parent.mkdir(parents=True)
    floor_s, floor_mb, _, floor_cpu = timed([sys.executable, "-c", FLOOR, str(data)])
    peer_s, peer_mb, _, peer_cpu = timed([*PEER, str(data), "--out-prefix", str(work / "peer" / "stats")])
    ingest_s, ingest_mb, _, ingest_cpu = timed([*PSW, "--db", str(db), "ingest", str(data), "--measurement", "scaled", *RUN_META])
    build_s, build_mb, build_out, build_cpu = timed([*PSW, "--db", str(db), "build"])
    noop_s, _, _, noop_cpu = timed([*PSW, "--db", str(db), "build", "--quiet"])
    small = work / "small_run_examples.jsonl"
    shutil.copy(PILOT, small)
    add_ingest_s, _, _, _ = timed([*PSW, "--db", str(db), "ingest", str(small), "--measurement", "small_run", *RUN_META])
    add_build_s, add_mb, _, _ = timed([*PSW, "--db", str(db), "build", "--quiet"])
    total, cpu = ingest_s + build_s, ingest_cpu + build_cpu
    return {"floor_s": floor_s, "peer_s": peer_s, "peer_mb": peer_mb, "ingest_s": ingest_s, "build_s": build_s,
            "total_s": total, "x_peer": total / peer_s, "x_floor": total / floor_s, "nodes": nodes_run(build_out),
            "cpu_s": cpu, "peer_cpu_s": peer_cpu, "floor_cpu_s": floor_cpu, "cpu_x_peer": cpu / peer_cpu,
            "noop_cpu_s": noop_cpu,
            "peak_mb": max(ingest_mb, build_mb), "floor_mb": floor_mb,
            "add_ingest_s": add_ingest_s, "add_build_s": add_build_s, "add_s": add_ingest_s + add_build_s,
            "add_peak_mb": add_mb, "noop_s": noop_s, "db_gb": db.stat().st_size / 1e9}


def bench(n_pairs: int, work: Path, repeat: int) -> dict:
    data = work / f"scaled_{n_pairs}_examples.jsonl"
    write_scaled(data, n_pairs)
    runs = []
    for _ in range(repeat):
        runs.append(bench_once(n_pairs, data, work))
        print(f"  (run {len(runs)} of {repeat} at {n_pairs}: "
              + ", ".join(f"{k} {v:.2f}" for k, v in runs[-1].items()) + ")", file=sys.stderr, flush=True)
    data.unlink()
    return {"pairs": n_pairs, **{key: statistics.median(r[key] for r in runs) for key in runs[0]}}


def verdict(r: dict) -> str:
    misses = []
    max_s, max_x_peer = TARGETS.get(r["pairs"], (None, None))
    if max_s is not None and r["total_s"] > max_s:
        misses.append(f"total > {max_s:g} s")
    if max_x_peer is not None and r["x_peer"] > max_x_peer:
        misses.append(f"total > {max_x_peer:g}x peer")
    if r["pairs"] == 64:
        misses += [f"nodes > {MAX_NODES}"] * (not r["nodes"] <= MAX_NODES)
    if r["pairs"] == 1_000_000:
        misses += ["peak > 2 GB"] * (not SERVED and r["peak_mb"] > MAX_PEAK_MB) + [f"+run > {MAX_ADD_S:g} s"] * (r["add_s"] > MAX_ADD_S)
    misses += [f"no-op > {MAX_NOOP_S:g} s"] * (r["noop_s"] > MAX_NOOP_S)
    return "missed: " + ", ".join(misses) if misses else "met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; figures are medians")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temp dir, removed after)")
    parser.add_argument("--server", action="store_true",
                        help="psw's steps run by its resident server, started before timing (wall seconds only)")
    parser.add_argument("--run-metadata", action="store_true",
                        help="ingest with the pilot's generator and judge, so the model-matrix marts are built too")
    args = parser.parse_args()
    global RUN_META
    RUN_META = PILOT_RUN if args.run_metadata else []
    work = args.work or Path(tempfile.mkdtemp(prefix="psw-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    global SERVED
    SERVED = args.server
    os.environ["PSW_SERVER"] = "on" if args.server else "off"
    if args.server:  # a folder of its own (a short path: a socket's holds at most 107 bytes)
        os.environ["PSW_SERVER_DIR"] = tempfile.mkdtemp(prefix="psws", dir="/tmp")
        started = subprocess.run([*PSW, "server", "start"], capture_output=True, text=True, cwd=ROOT)
        if started.returncode != 0:
            raise SystemExit(f"psw server start failed: {started.stderr.strip()}")
        print(started.stdout.strip())
    sys.path.insert(0, str(ROOT))
    from warehouse.dbt_runner import _manifest_file, parse_cache
    kept = _manifest_file(Path("warehouse.duckdb"), []).exists()
    saved = parse_cache(Path("warehouse.duckdb"), []).exists()
    print("dbt's parse of the project: " + ("a manifest kept by an earlier build, loaded" if kept else
          "saved by an earlier build, reused" if saved else "none saved yet: the first build parses fully (~5 s)"))
    print(f"medians of {args.repeat} run(s); {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start"
          + ("; steps run by psw's resident server: the cpu and peak columns are the caller's alone" if args.server else "")
          + ("; runs ingested with the pilot's generator and judge (model-matrix marts built)" if RUN_META else ""))
    print(f"{'pairs':>9} {'floor s':>8} {'peer s':>7} {'peer MB':>8} {'ingest s':>9} {'build s':>8} {'total s':>8} "
          f"{'x peer':>7} {'x floor':>8} {'nodes':>6} {'peak MB':>8} {'+run s':>7} {'(ingest':>8} {'build)':>7} "
          f"{'no-op s':>8} {'db GB':>6} {'cpu s':>7} {'peer cpu':>8} {'floor cpu':>9} {'cpu x peer':>10} {'no-op cpu':>9}  targets")
    try:
        for size in map(int, args.sizes.split(",")):
            r = bench(size, work, args.repeat)
            print(f"{r['pairs']:>9} {r['floor_s']:>8.2f} {r['peer_s']:>7.2f} {r['peer_mb']:>8.0f} {r['ingest_s']:>9.2f} "
                  f"{r['build_s']:>8.2f} {r['total_s']:>8.2f} {r['x_peer']:>7.2f} {r['x_floor']:>8.1f} {r['nodes']:>6.0f} "
                  f"{r['peak_mb']:>8.0f} {r['add_s']:>7.2f} {r['add_ingest_s']:>8.2f} {r['add_build_s']:>7.2f} "
                  f"{r['noop_s']:>8.2f} {r['db_gb']:>6.2f} {r['cpu_s']:>7.2f} {r['peer_cpu_s']:>8.2f} {r['floor_cpu_s']:>9.2f} "
                  f"{r['cpu_x_peer']:>10.2f} {r['noop_cpu_s']:>9.2f}  {verdict(r)}", flush=True)
    finally:
        if args.server:
            subprocess.run([*PSW, "server", "stop"], capture_output=True, cwd=ROOT)
            shutil.rmtree(os.environ["PSW_SERVER_DIR"], ignore_errors=True)
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
