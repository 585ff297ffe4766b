"""The package layering (README.md, the folder table): warehouse at the bottom, the CLI on top, no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["warehouse", "ingest", "collect", "extract", "dashboard", "hf", "report", "psw"]


def imports_of(package: str) -> set[str]:
    """Top-level project packages that any module of `package` imports (at any depth of the code)."""
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            found.update(name.split(".")[0] for name in names)
    return (found & set(PACKAGES)) - {package}


GRAPH = {package: imports_of(package) for package in PACKAGES}


def test_the_warehouse_package_imports_no_other_project_package():
    assert GRAPH["warehouse"] == set()


def test_no_feature_package_imports_the_cli():
    assert {p for p, deps in GRAPH.items() if "psw" in deps} == set()


def test_no_import_cycles_between_packages():
    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(dep == goal or (dep not in seen and reaches(dep, goal, seen | {dep})) for dep in GRAPH[start])

    cycles = sorted(p for p in PACKAGES if reaches(p, p, {p}))
    assert cycles == [], {p: sorted(GRAPH[p]) for p in cycles}
