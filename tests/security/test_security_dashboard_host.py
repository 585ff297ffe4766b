"""Attack 7: where the dashboard listens. Loopback by default; `--host` beyond loopback says
what it exposes before it serves."""

from __future__ import annotations

import os

import pytest

from tests.conftest import Psw


@pytest.fixture
def served(monkeypatch):
    """Runs `psw dashboard` up to the exec of Streamlit, and records that exec's arguments."""
    calls = []
    monkeypatch.setattr(os, "execve", lambda path, argv, env: calls.append((argv, env)))
    return calls


def address(argv: list[str]) -> str:
    return argv[argv.index("--server.address") + 1]


def test_default_is_loopback_and_quiet(pilot_db, capsys, served):
    rc, out, err = Psw(pilot_db, capsys)("dashboard", "--port", "8765")
    assert rc == 0 and address(served[0][0]) == "127.0.0.1"
    assert "http://127.0.0.1:8765" in out and err == ""


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_hosts_need_no_warning(pilot_db, capsys, served, host):
    rc, out, err = Psw(pilot_db, capsys)("dashboard", "--host", host)
    assert rc == 0 and address(served[0][0]) == host and err == ""


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_beyond_loopback_says_what_is_exposed(pilot_db, capsys, served, host):
    rc, out, err = Psw(pilot_db, capsys)("dashboard", "--host", host, "--port", "8765")
    assert rc == 0 and address(served[0][0]) == host
    assert err.startswith(f"warning: --host {host} is not loopback")
    for exposed in ("whole warehouse", str(pilot_db), "SQL page", "api_calls", "no login"):
        assert exposed.lower() in err.lower(), exposed
    assert served[0][1]["PSW_DB"] == str(pilot_db)
