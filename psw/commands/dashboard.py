"""`psw dashboard [--host ADDR] [--port P]`: serve the Streamlit dashboard (loopback by default)."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

from warehouse.db import db_path, sql_max_rows, sql_timeout_s

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
LOOPBACK_NAMES = {"localhost", "ip6-localhost", "ip6-loopback"}


def add_parser(sub) -> None:
    p = sub.add_parser("dashboard", help="browse cells beside their paired examples (Streamlit, read-only)",
                       description="Serves the dashboard on http://HOST:PORT (default 127.0.0.1: this machine "
                       "only). It only reads the warehouse, so `psw ingest` and `psw build` can run while it is "
                       "open; refresh to see a rebuild.")
    p.add_argument("--host", default="127.0.0.1", metavar="ADDR",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 exposes the whole warehouse to the "
                        "network, see the README's Security model)")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.set_defaults(func=run)


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int, db: str) -> str:
    """What anyone who can reach host:port gets, said before serving beyond loopback."""
    return (f"warning: --host {host} is not loopback: anyone who can reach {host}:{port} can read the whole "
            f"warehouse {db}: every page (cells, paired completions, judge outputs and reasons) and the SQL "
            f"page, which runs any SELECT over every table (raw prompts, completions and api_calls included; "
            f"no files, network or settings; {sql_timeout_s():g} s and {sql_max_rows()} rows per query). "
            f"There is no login. Serve on 127.0.0.1 and use an SSH tunnel to share it privately.")


def streamlit_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.port", str(port), "--server.address", host, "--server.headless", "true",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer", "--global.developmentMode", "false"]


def run(args) -> int:
    env = {**os.environ, "PSW_DB": str(db_path(args.db))}
    if not is_loopback(args.host):
        print(exposure_warning(args.host, args.port, env["PSW_DB"]), file=sys.stderr, flush=True)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"dashboard on http://{shown}:{args.port} reading {env['PSW_DB']} (Ctrl-C stops it)", flush=True)
    # replace this process, so the dashboard is the process a caller started (and stops)
    os.execve(sys.executable, streamlit_command(args.host, args.port), env)
    return 0  # not reached
