"""The README's example queries run against the published pilot and return rows."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import ROOT, Psw


def readme_queries() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Five queries"):]
    sql = re.search(r"```sql\n(.*?)```", section, re.S).group(1)
    return [q.strip() for q in sql.split(";") if q.strip()]


def test_the_readme_shows_five_queries():
    assert len(readme_queries()) == 5


@pytest.mark.parametrize("query", readme_queries())
def test_readme_query_returns_rows(pilot_db, capsys, query):
    rc, out, err = Psw(pilot_db, capsys)("sql", query, "--format", "csv")
    assert rc == 0, err
    assert len(out.strip().splitlines()) >= 2, f"no rows for:\n{query}"


def test_the_queries_name_cells_by_template_and_persona_pair_not_by_id():
    for query in readme_queries():
        selected = query.split("from", 1)[0]
        assert "cell_id" not in selected, query


def test_the_reference_folder_line_works_from_any_folder_of_the_clone():
    lines = {line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("R=")}
    assert len(lines) == 1, lines  # one way to say where the reference pilot is
    (line,) = lines
    for folder in (ROOT, ROOT / "dashboard", ROOT / "dbt" / "models"):
        found = subprocess.run(["bash", "-c", f'{line}\nls "$R"'], cwd=folder, capture_output=True, text=True)
        assert found.returncode == 0 and "v2_pilot_seed23_examples.jsonl" in found.stdout, (folder, found.stderr)
