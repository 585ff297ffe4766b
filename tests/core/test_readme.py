"""The README's example queries run against the published pilot and return rows."""

from __future__ import annotations

import re

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
