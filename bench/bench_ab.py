"""Interleaved A/B of two checkouts of psw: which one builds faster, on this machine, now.

bench_warehouse.py runs one checkout after the other; on a shared machine its speed can move by 20%
between them (the peer's own time does). Here the two checkouts alternate, round after round, on the
same data (each first in every other round), each step in a fresh process, and each step's median wall
and CPU seconds (user + system) are printed per checkout:
- `ingest`: the scaled pilot (bench_warehouse.write_scaled) into a new warehouse;
- `first build`: `psw build --quiet` of it;
- `add-run build`: after ingesting the pilot's 64 pairs as a new measurement, `psw build --quiet`.

    python bench/bench_ab.py --before ../wt-base --after . --pairs 64 --rounds 6
    python bench/bench_ab.py --before ../wt-base --after . --pairs 100000 --rounds 3

Each checkout runs with its own code (PYTHONPATH) and dbt project, with this interpreter, and with
psw's resident server off (PSW_SERVER=off, psw/server.py), unless --served-after: then the after
checkout's steps are run by its server (started, and answering, before the rounds), and only their
wall seconds compare (the CPU the server's child spends is not the step's).

    python bench/bench_ab.py --before ../wt-base --after . --pairs 64 --rounds 6 --served-after

With --add-run-only, each checkout ingests and builds the scaled warehouse once (its warm-up), and
each round times only `add-run build` on a fresh copy of it (its folder, dbt's files included): adding
a run to a big warehouse without ingesting it again every round.

    python bench/bench_ab.py --before ../wt-base --after . --pairs 1000000 --rounds 5 --add-run-only

With --run-metadata, every ingest names the pilot's generator and judge (bench_warehouse.py --run-metadata),
so the model-matrix marts are built too.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_warehouse import PILOT, PILOT_RUN, timed, write_scaled  # noqa: E402

STEPS = ("ingest", "first build", "add-run build")


def program(tree: Path, served: str | None) -> list[str]:
    """`psw` of a checkout: in the checkout itself (`python -m` puts the working folder first on the
    import path), with its server in the folder `served`, or off."""
    server = [f"PSW_SERVER_DIR={served}", "PSW_SERVER=on"] if served else ["PSW_SERVER=off"]
    return ["env", "-C", str(tree), f"PYTHONPATH={tree}", *server, sys.executable, "-m", "psw.cli"]


def one_round(tree: Path, data: Path, small: Path, work: Path, served: str | None,
              template: Path | None = None, meta: Sequence[str] = ()) -> dict[str, tuple[float, float]]:
    """Time the steps in a fresh warehouse; from a copy of `template`'s folder, the add-run step only."""
    db = work / tree.name / "warehouse.duckdb"
    shutil.rmtree(db.parent, ignore_errors=True)
    psw = [*program(tree, served), "--db", str(db)]
    out = {}
    if template is not None:
        shutil.copytree(template, db.parent)
        timed([*psw, "ingest", str(small), "--measurement", "small_run", *meta])
        seconds, _, _, cpu = timed([*psw, "build", "--quiet"])
        out["add-run build"] = (seconds, cpu)
        return out
    db.parent.mkdir(parents=True)
    seconds, _, _, cpu = timed([*psw, "ingest", str(data), "--measurement", "scaled", *meta])
    out["ingest"] = (seconds, cpu)
    seconds, _, _, cpu = timed([*psw, "build", "--quiet"])
    out["first build"] = (seconds, cpu)
    timed([*psw, "ingest", str(small), "--measurement", "small_run", *meta])
    seconds, _, _, cpu = timed([*psw, "build", "--quiet"])
    out["add-run build"] = (seconds, cpu)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="a checkout of psw (e.g. a git worktree)")
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--served-after", action="store_true",
                        help="the after checkout's steps run by its resident server (compare wall seconds only)")
    parser.add_argument("--served-before", action="store_true",
                        help="the before checkout's too (both must have psw/server.py)")
    parser.add_argument("--add-run-only", action="store_true",
                        help="build the scaled warehouse once per checkout; each round times adding a run to a copy")
    parser.add_argument("--run-metadata", action="store_true",
                        help="ingest with the pilot's generator and judge (bench_warehouse.py --run-metadata)")
    args = parser.parse_args()
    meta = PILOT_RUN if args.run_metadata else []
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    results: dict[str, list[dict]] = {name: [] for name in trees}
    # a short folder of its own for the after checkout's server (a socket's path holds <= 107 bytes)
    served = {name: tempfile.mkdtemp(prefix="psws", dir="/tmp") if wanted else None
              for name, wanted in (("before", args.served_before), ("after", args.served_after))}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch)
            data, small = work / "scaled_examples.jsonl", work / "small_run_examples.jsonl"
            write_scaled(data, args.pairs)
            shutil.copy(PILOT, small)
            for name in trees:
                if served[name]:
                    subprocess.run([*program(trees[name], served[name]), "server", "start"], check=True,
                                   capture_output=True)
            templates: dict[str, Path | None] = {name: None for name in trees}
            for name, tree in trees.items():   # a warm-up each: each checkout's kept parse is made
                if not args.add_run_only:
                    one_round(tree, data, small, work, served[name], meta=meta)
                    continue
                # its scaled warehouse, built once, is the template each round copies
                db = work / "templates" / name / "warehouse.duckdb"
                db.parent.mkdir(parents=True)
                psw = [*program(tree, served[name]), "--db", str(db)]
                timed([*psw, "ingest", str(data), "--measurement", "scaled", *meta])
                timed([*psw, "build", "--quiet"])
                templates[name] = db.parent
            for i in range(args.rounds):
                # each checkout first in every other round: a round's second run meets the first's
                # writes still in the page cache (100k: identical code measured 0.5 s slower second)
                for name, tree in (list(trees.items()) if i % 2 == 0 else list(trees.items())[::-1]):
                    results[name].append(one_round(tree, data, small, work, served[name], templates[name], meta))
    finally:
        for name in trees:
            if served[name]:
                subprocess.run([*program(trees[name], served[name]), "server", "stop"], capture_output=True)
                shutil.rmtree(served[name], ignore_errors=True)
    by_server = [name for name in trees if served[name]]
    print(f"{args.pairs} pairs, medians of {args.rounds} interleaved rounds: wall s / CPU s"
          + (f"; run by their servers: {', '.join(by_server)} (CPU s: the caller's alone)" if by_server else ""))
    print(f"{'step':<15}" + "".join(f"{name:>22}" for name in trees))
    for step in (["add-run build"] if args.add_run_only else STEPS):
        cells = []
        for name in trees:
            wall = statistics.median(r[step][0] for r in results[name])
            cpu = statistics.median(r[step][1] for r in results[name])
            cells.append(f"{wall:>10.2f} / {cpu:>7.2f}  ")
        print(f"{step:<15}" + "".join(f"{cell:>22}" for cell in cells))


if __name__ == "__main__":
    main()
