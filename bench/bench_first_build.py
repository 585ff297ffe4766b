"""A checkout's first pilot build, with and without `make setup`'s warming (psw/warm.py).

The first `psw build` of a checkout parses the dbt project, compiles its Jinja and builds every
model once; later builds reuse what that left under dbt/target. This benchmark copies the
checkout's committed files (`git archive HEAD`) to a temporary folder, so dbt/target starts
empty as on a fresh clone (the checkout's own caches are not touched), and per round, in a fresh
folder each time:
- cold: dbt/target removed; `psw ingest` of the published pilot's 64 exported pairs, then
  `psw build` (each a fresh program: no resident server, as on first contact);
- warmed: dbt/target removed; `python -m psw.warm` (timed apart: `make setup` runs it once),
  then the same ingest and build.
Rounds alternate cold and warmed; medians of --rounds. Run it alone: the seconds move with load.

    python bench/bench_first_build.py --rounds 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_warehouse import PILOT, ROOT, nodes_run  # noqa: E402


def _run(checkout: Path, args: list[str]) -> tuple[float, str]:
    # Python writes the copy's bytecode on its first import, as a user's first command does
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"PYTHONPATH": str(checkout), "PSW_SERVER": "off", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "DO_NOT_TRACK": "1"})
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=checkout, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{(done.stdout + done.stderr)[-3000:]}")
    return seconds, done.stdout + done.stderr


def one_round(checkout: Path, warmed: bool) -> dict[str, float]:
    shutil.rmtree(checkout / "dbt" / "target", ignore_errors=True)
    row = {"warm_s": 0.0}
    if warmed:
        row["warm_s"], _ = _run(checkout, ["-m", "psw.warm"])
    with tempfile.TemporaryDirectory(prefix="psw-first-") as folder:
        db = str(Path(folder) / "warehouse.duckdb")
        row["ingest_s"], _ = _run(checkout, ["-m", "psw.cli", "--db", db, "ingest", str(PILOT)])
        row["build_s"], out = _run(checkout, ["-m", "psw.cli", "--db", db, "build"])
    row["nodes"] = nodes_run(out)
    row["total_s"] = row["ingest_s"] + row["build_s"]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not PILOT.is_file():
        raise SystemExit(f"the published pilot is not at {PILOT}")
    with tempfile.TemporaryDirectory(prefix="psw-checkout-") as folder:
        checkout = Path(folder)
        archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(checkout)], input=archive, check=True)
        rows: dict[str, list[dict]] = {"cold": [], "warmed": []}
        for i in range(args.rounds):
            for mode in ("cold", "warmed"):
                row = one_round(checkout, mode == "warmed")
                rows[mode].append(row)
                print(f"  (round {i + 1} {mode}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()) + ")", flush=True)
    print(f"medians of {args.rounds} round(s); {os.cpu_count()} cores; each step a fresh program, no server")
    print(f"{'':8s} {'warm s':>7s} {'ingest s':>9s} {'build s':>8s} {'total s':>8s} {'nodes':>6s}")
    for mode, found in rows.items():
        med = {k: statistics.median(r[k] for r in found) for k in found[0]}
        print(f"{mode:8s} {med['warm_s']:7.2f} {med['ingest_s']:9.2f} {med['build_s']:8.2f} {med['total_s']:8.2f} "
              f"{med['nodes']:6.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
