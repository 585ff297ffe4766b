"""Helpers shared by the collect tests and bench/bench_collect.py (not a conftest, so that
`import` finds it unambiguously next to the other test folders' conftest.py files)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for p in (HERE, ROOT):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

SECRET = "sk-or-v1-TESTSECRET-8b1e2f90c4d7a5563e1199aa"
KEY_ENV = "PSW_TEST_API_KEY"


def write_candidates(d: Path, n_templates=2, n_pairs=2, n_scenarios=2) -> dict:
    d.mkdir(parents=True, exist_ok=True)
    pairs = [{"id": f"pp{i}", "pos": f"alpha{i}-kind", "neg": f"omega{i}-cold",
              "positive_behavior": f"helps people (axis {i})",
              "negative_behavior": f"ignores people (axis {i})"} for i in range(n_pairs)]
    (d / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))
    templates = [f"You are a {{persona}} person, variant {i}." for i in range(n_templates)]
    (d / "templates.txt").write_text("".join(t + "\n" for t in templates))
    scenarios = [{"id": f"sc{i}", "prompt": f"Situation number {i}: what do you do?"}
                 for i in range(n_scenarios)]
    (d / "scenarios.jsonl").write_text("".join(json.dumps(s) + "\n" for s in scenarios))
    return {"pairs": d / "pairs.jsonl", "templates": d / "templates.txt",
            "scenarios": d / "scenarios.jsonl", "n": n_templates * n_pairs * n_scenarios}


def collect_args(db: Path, base_url: str, files: dict, *extra: str, judges=("judge/one",),
                 n: int | None = None) -> list[str]:
    args = ["--db", str(db), "collect", "--pairs", str(files["pairs"]),
            "--templates", str(files["templates"]), "--scenarios", str(files["scenarios"]),
            "--n", str(n if n is not None else 0), "--generator", "gen/model",
            "--base-url", base_url, "--api-key-env", KEY_ENV, "--no-progress",
            "--backoff-base", "0.01", "--backoff-max", "0.05", "--timeout", "5"]
    for j in judges:
        args += ["--judge", j]
    return args + list(extra)


def run_cli(argv: list[str]) -> int:
    from psw.cli import main
    return main(argv)


def q(db: Path, sql: str, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def dump_all_text(db: Path) -> str:
    """Every value of every table in the warehouse, as text."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        parts = []
        for schema, table in con.execute(
                "select table_schema, table_name from information_schema.tables").fetchall():
            for row in con.execute(f'select * from "{schema}"."{table}"').fetchall():
                parts.append(repr(row))
        return "\n".join(parts)
    finally:
        con.close()
