from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from collect_helpers import KEY_ENV, SECRET  # noqa: E402
from fakeserver import FakeLLM, FakeServer  # noqa: E402


@pytest.fixture
def fake():
    server = FakeServer(FakeLLM()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def secret(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    return SECRET
