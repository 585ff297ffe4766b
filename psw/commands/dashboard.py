"""`psw dashboard [--port P]`: serve the Streamlit dashboard on localhost."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from warehouse.db import db_path

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def add_parser(sub) -> None:
    p = sub.add_parser("dashboard", help="browse cells beside their paired examples (Streamlit, read-only)",
                       description="Serves the dashboard on http://localhost:PORT. It only reads the marts, "
                       "so `psw ingest` and `psw build` can run while it is open; refresh to see a rebuild.")
    p.add_argument("--port", type=int, default=8501, help="port on localhost (default 8501)")
    p.set_defaults(func=run)


def streamlit_command(port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.port", str(port), "--server.address", "localhost", "--server.headless", "true",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer", "--global.developmentMode", "false"]


def run(args) -> int:
    env = {**os.environ, "PSW_DB": str(db_path(args.db))}
    print(f"dashboard on http://localhost:{args.port} reading {env['PSW_DB']} (Ctrl-C stops it)", flush=True)
    # replace this process, so the dashboard is the process a caller started (and stops)
    os.execve(sys.executable, streamlit_command(args.port), env)
    return 0  # not reached
