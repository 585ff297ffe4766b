"""Security tests: each one is an attack that worked before its fix (issue 10).

They reuse the collect tests' fake HTTP server and the pilot warehouse of tests/conftest.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for extra in (HERE.parent / "collect", HERE):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))


@pytest.fixture(scope="session")
def pilot_library(pilot_db, tmp_path_factory) -> Path:
    """One `psw export-hf` of the pilot warehouse (read-only: copy it before changing it)."""
    from psw.cli import main

    out = tmp_path_factory.mktemp("security-export") / "library"
    assert main(["--db", str(pilot_db), "export-hf", "--out", str(out)]) == 0
    return out
