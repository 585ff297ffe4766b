"""`psw docs`: dbt's documentation site (lineage graph, every column's description) for the
selected warehouse, generated offline and served on 127.0.0.1.

Generating takes dbt ~16 s. The site depends only on the dbt project and on what the last
successful `psw build` made of the warehouse, so it is reused while both are unchanged: the
site folder keeps a digest of them (`.psw-docs-key`, written after a generation succeeds).
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from importlib import metadata

import duckdb

from psw.commands.build import run_dbt, target_dir
from warehouse import build_state
from warehouse.db import UserError, connect, db_path

SITE_FILES = ("index.html", "manifest.json", "catalog.json")  # all the site reads; nothing else is served
KEY_FILE = ".psw-docs-key"


def add_parser(sub) -> None:
    p = sub.add_parser("docs", help="generate dbt's docs (lineage, column descriptions) and serve them locally",
                       description="Runs `dbt docs generate` against the warehouse (offline: the site is "
                       "self-contained) and serves it on http://127.0.0.1:PORT until Ctrl-C. The marts' "
                       "descriptions are also stored as DuckDB comments by `psw build`, so any SQL client "
                       "sees them (`select column_name, comment from duckdb_columns()`).")
    p.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080; 0 = any free port)")
    p.add_argument("--no-serve", action="store_true", help="only generate; print the folder holding the site")
    p.add_argument("--regenerate", action="store_true",
                   help="run dbt docs generate even when the project and the last build are unchanged")
    p.set_defaults(func=run)


class SiteHandler(SimpleHTTPRequestHandler):
    """Serves the three files of dbt's site, and nothing else from the target folder."""

    def do_GET(self) -> None:
        name = self.path.split("?", 1)[0].lstrip("/") or "index.html"
        if name not in SITE_FILES:
            self.send_error(404, "not part of the docs site")
            return
        self.path = "/" + name
        super().do_GET()

    def do_HEAD(self) -> None:
        self.do_GET()

    def log_message(self, format, *args) -> None:  # a request log would drown the one useful line
        pass


def generate(db: Path, regenerate: bool = False) -> tuple[Path, bool]:
    """The folder holding the site, and whether it was reused (else `dbt docs generate` ran)."""
    if not db.exists():
        raise UserError(f"{db}: no warehouse here yet; run `psw ingest FILE...` then `psw build`")
    site = target_dir(db)
    key = site_key(db)
    stored = site / KEY_FILE
    if not regenerate and key and stored.is_file() and stored.read_text() == key \
            and all((site / name).is_file() for name in SITE_FILES):
        return site, True
    stored.unlink(missing_ok=True)  # written again only once this generation succeeds
    if not run_dbt(db, "docs generate", ["--quiet"]):
        raise UserError("dbt docs generate failed (see the dbt output above)")
    missing = [name for name in SITE_FILES if not (site / name).exists()]
    if missing:
        raise UserError(f"{site}: dbt wrote no {', '.join(missing)}")
    if key:
        stored.write_text(key)
    return site, False


def site_key(db: Path) -> str | None:
    """A digest of what the site shows: the last successful build's state (the raw data, project
    and arguments it built from, and when), the dbt project now, dbt's version and the file.
    None when no successful build is recorded: then nothing is reused."""
    try:
        with connect(db, read_only=True) as con:
            row = con.execute("select state, built_at from meta.last_build order by built_at desc limit 1").fetchone()
    except duckdb.Error:
        return None
    if row is None:
        return None
    parts = [row[0], str(row[1]), build_state.project_hash(), metadata.version("dbt-core"), str(db.resolve())]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def serve(site: Path, port: int) -> ThreadingHTTPServer:
    try:
        return ThreadingHTTPServer(("127.0.0.1", port), functools.partial(SiteHandler, directory=str(site)))
    except OSError as exc:
        raise UserError(f"--port {port}: cannot listen on 127.0.0.1 ({exc.strerror})") from None


def run(args) -> int:
    db = db_path(args.db)
    site, reused = generate(db, args.regenerate)
    if reused:
        print(f"reusing the docs site: the dbt project and the last build are unchanged (`--regenerate` "
              "generates anyway)", file=sys.stderr)
    if args.no_serve:
        print(f"dbt docs for {db} in {site} (open index.html through a web server: `psw docs`)")
        return 0
    server = serve(site, args.port)
    print(f"dbt docs for {db} on http://127.0.0.1:{server.server_address[1]} (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0
