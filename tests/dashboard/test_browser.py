"""A real browser (headless Debian Chromium over the DevTools protocol) against `psw dashboard`,
and `psw build` while the dashboard is running."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from dashboard_helpers import free_port, query
from websockets.sync.client import connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage"]


class Browser:
    """Just enough of the DevTools protocol: navigate, evaluate, screenshot."""

    def __init__(self, profile: Path):
        port = free_port()
        # its temporary folders (org.chromium.Chromium.*, its singleton's socket) in one of its own,
        # removed on close, not left in /tmp; a short path (a socket's holds at most 107 bytes)
        self.scratch = tempfile.mkdtemp(prefix="psw-chromium-")
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}",
                                      f"--remote-debugging-port={port}", "--window-size=1400,2400", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, "TMPDIR": self.scratch})
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    pages = [t for t in json.load(r) if t["type"] == "page"]
                if pages:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.close()
                pytest.fail("chromium did not open its DevTools port")
            time.sleep(0.2)
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=10))
        self.next_id = 0

    def send(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def navigate(self, url: str) -> None:
        for attempt in range(5):
            try:
                self.send("Page.navigate", url=url)
                return
            except RuntimeError:  # a navigation still in flight: give it a moment
                time.sleep(0.5)
        self.send("Page.navigate", url=url)

    def evaluate(self, expression: str):
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait_for_text(self, *snippets: str, scenarios: int = 0, any_of: tuple = (), timeout: float = 45) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                text = self.evaluate("document.body ? document.body.innerText : ''") or ""
            except RuntimeError:  # evaluated mid-navigation: try again
                text = ""
            if (all(s in text for s in snippets) and text.count("Scenario ") >= scenarios
                    and (not any_of or any(s in text for s in any_of))):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"page never showed {snippets!r}; it shows:\n{text[:3000]}")
            time.sleep(0.3)

    def screenshot(self, path: Path) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=1400, height=2400, deviceScaleFactor=1, mobile=False)
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        if getattr(self, "stack", None):
            self.stack.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.scratch, ignore_errors=True)


@pytest.fixture
def browser(tmp_path):
    if not CHROMIUM:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    b = Browser(tmp_path / "chromium-profile")
    yield b
    b.close()


def words(text: str, n: int = 6) -> str:
    """The first few words of a completion: what innerText shows whatever markdown does to the rest."""
    return " ".join(text.split()[:n])


def test_browser_opens_the_top_cell_and_shows_both_completions(dashboard, browser, tmp_path):
    url, db, _ = dashboard
    browser.send("Page.enable")
    browser.navigate(url)
    browser.wait_for_text("16 cells match", "Open the top cell: 36.6")
    browser.evaluate("[...document.querySelectorAll('a')]"
                     ".find(a => a.innerText.includes('Open the top cell')).click()")
    pos, neg = query(db, "select pos_response, neg_response from examples where cell_id = "
                         "(select cell_id from template_pair_scores order by score desc limit 1) "
                         "order by scenario_id, pair_id limit 1")[0]
    browser.wait_for_text("Score 36.6", "Positive", "Negative", words(pos), words(neg), scenarios=4)
    assert "cell=" in browser.evaluate("location.href")
    shot = tmp_path / "top_cell.png"
    browser.screenshot(shot)
    assert shot.stat().st_size > 10_000


def test_build_succeeds_while_the_dashboard_runs(dashboard, browser, tmp_path):
    url, db, proc = dashboard
    top = query(db, "select cell_id from template_pair_scores order by score desc limit 1")[0][0]
    cell_url = f"{url}/cell?cell={top}"
    browser.navigate(cell_url)
    browser.wait_for_text("Score 36.6")
    # the marts only (what the dashboard reads), to keep the suite short; the lock is the same as a full build
    log = tmp_path / "build.log"
    with log.open("w") as out:
        build = subprocess.Popen([sys.executable, "-m", "psw.cli", "--db", str(db), "build", "--quiet",
                                  "--select", "marts"], stdout=out, stderr=subprocess.STDOUT)
    reloads = 0
    try:
        while build.poll() is None:  # keep the dashboard reading while dbt writes
            browser.navigate(cell_url)
            time.sleep(2)  # a reload every few seconds: enough to overlap dbt, light on a 2-core machine
            text = browser.wait_for_text(any_of=("Score 36.6", "busy", "rebuilt", "no marts yet"))
            assert "Traceback" not in text and "Exception" not in text
            reloads += 1
    finally:
        if build.poll() is None:
            build.kill()
    assert build.wait() == 0, log.read_text()[-3000:]
    assert reloads >= 1 and proc.poll() is None
    browser.navigate(cell_url)
    browser.wait_for_text("Score 36.6", "Positive", "Negative", scenarios=4)


def test_every_page_opens_by_its_url(dashboard, browser):
    """The URLs in dashboard/README.md, typed into the address bar (a link to /cells found no page)."""
    url, db, _ = dashboard
    browser.send("Page.enable")
    for path, snippet in [("/cells", "16 cells match"), ("/cells?pair=wellbeing_authority", "4 cells match"),
                          ("/templates", "4 templates"), ("/persona-pairs", "16 persona pairs"),
                          ("/on-off-axis", "16 cells with both means"), ("/compare", "nothing to compare yet"),
                          ("/steering", "No activation data yet"), ("/sql", "10 rows")]:
        browser.navigate(url + path)
        text = browser.wait_for_text(snippet)
        assert "Page not found" not in text, path
    browser.navigate(url + "/?min_n=4")  # the root opens Cells, query string and all
    browser.wait_for_text("11 cells match")
    assert browser.evaluate("location.pathname") == "/cells" and "min_n=4" in browser.evaluate("location.search")
