"""`python -m psw.warm`: make this checkout's dbt caches before its first real build (`make setup`).

A checkout's first `psw build` does work that every later build of the same dbt project reuses: dbt
parses the project (its manifest, kept under dbt/target/parse-by-file-name), compiles the models'
Jinja (dbt/target/jinja-code.marshal), builds its config classes' JSON schemas
(dbt/target/json-schemas.json), and a full build writes down the models that read only empty raw
tables (warehouse/empty_models.py), which later first builds make from that record instead of
running them in dbt. On a fresh clone the first pilot build took ~10 s (53 dbt nodes and the parse)
where a later one took ~2.5 s (30 nodes).

This builds a warehouse whose raw tables are all empty, in a temporary folder, under the name every
warehouse gets by default (`warehouse.duckdb`: dbt's parse is per file name, so another name parses
once on its first build), and removes it. Every model reads only empty tables there, so the record
holds each table model and seed a later first build can make. The caches are keyed by the project's
files, the versions and the build's arguments and settings, so a first build after `git pull`
changed the project does that work again (the Makefile warms again when a file under dbt/ changes).

A cache never fails a build, and warming never fails a setup: a failure is said in one line, and
the first real build does the work instead.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def main() -> int:
    os.environ["PSW_SERVER"] = "off"   # run here: no resident server left behind by `make setup`
    from psw.cli import main as psw
    from warehouse.db import connect

    with tempfile.TemporaryDirectory(prefix="psw-warm-") as folder:
        db = Path(folder) / "warehouse.duckdb"
        try:
            with connect(db):   # the raw schema, every table empty
                pass
            rc = psw(["--db", str(db), "build", "--quiet"])
        except Exception as exc:  # noqa: BLE001 (a cache: never a setup's failure, said in one line)
            rc, reason = 1, f"{type(exc).__name__}: {exc}".splitlines()[0]
        else:
            reason = "the build failed (above)"
    if rc != 0:
        print(f"warning: dbt's caches were not made ({reason}); the first `psw build` makes them", file=sys.stderr)
        return 0
    print("dbt's caches made for this checkout's project (psw/warm.py)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
