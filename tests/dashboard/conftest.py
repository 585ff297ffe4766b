"""Dashboard fixtures: AppTest against the pilot warehouse, and a running `psw dashboard`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from dashboard_helpers import free_port, query
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "app.py"


@pytest.fixture
def app(monkeypatch):
    """app(db, page=None, **query_params) -> an AppTest that has run once on that page."""

    def make(db: Path, page: str | None = None, **params) -> AppTest:
        monkeypatch.setenv("PSW_DB", str(db))
        at = AppTest.from_file(str(APP), default_timeout=60)
        for name, value in params.items():
            at.query_params[name] = value
        at.run()
        if page:
            at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return make


@pytest.fixture(scope="session")
def top_cell(pilot_db) -> str:
    return query(pilot_db, "select cell_id from template_pair_scores order by score desc limit 1")[0][0]


@pytest.fixture
def dashboard(pilot_copy, tmp_path):
    """`psw dashboard` on a free port over a writable copy of the pilot; yields (url, db)."""
    port = free_port()
    log = (tmp_path / "dashboard.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "psw.cli", "--db", str(pilot_copy), "dashboard", "--port",
                             str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"})
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dashboard did not start: {(tmp_path / 'dashboard.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield url, pilot_copy, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
