"""Every `psw` command builds the whole parser, so what the command modules import at their top is
paid by each command: `psw build` must not load the libraries only ingest or collect use
(pyarrow with numpy, ~0.2 s; httpx and jinja2, ~0.2 s; dbt, ~2 s, and protobuf, which psw's dbt
speed-ups use), and `psw ingest` not collect's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REFERENCE

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pyarrow", "numpy", "httpx", "jinja2", "polars", "torch", "transformers", "datasets", "streamlit",
         "dbt", "google.protobuf")


def _loaded_after(statements: str) -> set[str]:
    """The HEAVY modules a fresh interpreter holds after running `statements`."""
    code = f"import json, sys\n{statements}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_the_parser_and_the_build_command_load_none_of_the_heavy_libraries():
    assert _loaded_after("import psw.cli\npsw.cli.make_parser()\nimport psw.commands.build") == set()


def test_the_ingest_command_loads_none_of_them_until_a_file_needs_arrow(tmp_path):
    # collect's client and prompts stay unloaded; Arrow (with numpy, ~0.13 s) is imported by the two
    # readers that hand rows to DuckDB through it: an artifact's pairs and a stats CSV's lines
    assert _loaded_after("import psw.commands.ingest\nfrom ingest.loader import ingest_file") == set()
    examples = REFERENCE / "v2_pilot_seed23_examples.jsonl"
    db = tmp_path / "warehouse.duckdb"
    ingest = (f"from psw.cli import main\n"
              f"assert main(['--db', {str(db)!r}, 'ingest', {str(examples)!r}, '--measurement', 'm']) == 0")
    assert _loaded_after(ingest) == set()
    stats = tmp_path / "stats.csv"
    stats.write_text("template,persona_pair_id,n\nt {persona},p,1\n")
    read = (f"from pathlib import Path\nimport duckdb\nfrom ingest import csv_stats\n"
            f"csv_stats.read_lines(duckdb.connect(), Path({str(stats)!r}))")
    assert _loaded_after(read) == {"pyarrow", "numpy"}
