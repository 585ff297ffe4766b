"""Small things a new user hit: error wording, dangling references, README figures, install noise."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from psw.cli import main
from tests.conftest import ROOT


def write_candidates(folder) -> list[str]:
    folder.mkdir()
    (folder / "pairs.jsonl").write_text('{"id": "a", "pos": "candid", "neg": "flattering", '
                                        '"positive_behavior": "x", "negative_behavior": "y"}\n')
    (folder / "templates.txt").write_text("You are a {persona} person.\n")
    (folder / "scenarios.jsonl").write_text('{"id": "s1", "prompt": "What do you think?"}\n')
    return ["--pairs", str(folder / "pairs.jsonl"), "--templates", str(folder / "templates.txt"),
            "--scenarios", str(folder / "scenarios.jsonl")]


def test_missing_api_key_says_what_to_export(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    files = write_candidates(tmp_path / "cand")
    rc = main(["--db", str(tmp_path / "w.duckdb"), "collect", *files, "--generator", "g", "--judge", "j"])
    err = capsys.readouterr().err
    assert rc == 2 and ":0:" not in err
    assert "OPENROUTER_API_KEY is not set" in err and "export OPENROUTER_API_KEY=" in err
    assert len(err.strip().splitlines()) == 1
    rc = main(["--db", str(tmp_path / "w.duckdb"), "collect", *files, "--generator", "g"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: --judge: at least one")


def test_no_file_cites_a_document_the_project_lacks():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    citing = []
    documents = {Path(name).name for name in tracked.split()}  # the project's own files (not .venv's: 35 s to walk)
    for name in tracked.split():
        path = ROOT / name
        if path.suffix in {".py", ".sql", ".yml", ".md", ".j2", ".toml", ".txt"} and path.is_file():
            for doc in re.findall(r"\b([A-Z][A-Z_]+\.md)\b", path.read_text(errors="replace")):
                if doc not in documents and doc != "README.md":
                    citing.append(f"{name}: {doc}")
    assert not citing


def speed_ups(text: str) -> set[str]:
    return set(re.findall(r"(\d+\.\d)x", text))


def test_the_readmes_agree_on_the_extraction_speed_up():
    readme = (ROOT / "README.md").read_text()
    extraction = readme[readme.index("**Extraction**"):readme.index("**Dashboard**")]
    extract_readme = (ROOT / "extract" / "README.md").read_text()
    table = extract_readme[extract_readme.index("## Benchmark"):].split("\n\n")[2]  # the figures' table
    assert speed_ups(table) and speed_ups(table) <= speed_ups(extraction)


def test_package_metadata_builds_without_a_license_deprecation(tmp_path):
    """`make setup` (pip install -e .) printed setuptools' license banner twice."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copy(ROOT / "README.md", tmp_path)
    (tmp_path / "psw").mkdir()
    (tmp_path / "psw" / "__init__.py").write_text("")
    result = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "egg_info"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "license" not in (result.stdout + result.stderr).lower().replace("license: mit", "")
