"""Where the warehouse lives and how commands connect to it."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from warehouse.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = ROOT / "data" / "warehouse.duckdb"
DBT_DIR = ROOT / "dbt"
MARTS_SCHEMA = "main"  # dbt writes marts to the profile's default schema


def db_path(cli_value: str | None = None) -> Path:
    """--db beats PSW_DB beats data/warehouse.duckdb."""
    value = cli_value or os.environ.get("PSW_DB") or str(DEFAULT_DB)
    return Path(value).expanduser().resolve()


# DuckDB spills to disk past this, so a million-pair ingest stays within a laptop's memory
MEMORY_LIMIT = os.environ.get("PSW_MEMORY_LIMIT", "2GB")


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    if read_only and not path.exists():
        raise UserError(f"{path}: no warehouse here yet; run `psw ingest ...` then `psw build`")
    path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path), read_only=read_only, config={"memory_limit": MEMORY_LIMIT})

