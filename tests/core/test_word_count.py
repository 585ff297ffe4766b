"""dbt's word_count macro (blocks of 16 words per regex match) counts exactly what the
guide's rule counts: runs of [A-Za-z'], as Python's re.findall does."""

from __future__ import annotations

import random
import re

import duckdb
import jinja2

from warehouse.db import DBT_DIR

RULE = re.compile(r"[A-Za-z']+")
PIECES = ["word", "I'm", "don't-stop", "''", "'", "a", "Z", "x" * 40, "café", "naïve", "中文", "3.5", "42",
          " ", "  ", "\n", "\t", ", ", "! ", "...", "—", "-", "(", ")", "\"", "🙂", "e.g.", "U.S."]


def word_count_sql(column: str) -> str:
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    module = env.from_string((DBT_DIR / "macros" / "scoring.sql").read_text()).module
    return str(module.word_count(column))


def texts() -> list[str | None]:
    rng = random.Random(7)
    out: list[str | None] = [None, "", " ", "'", "a", "a b", "a  b ", " a", "a,b;c"]
    for n in (15, 16, 17, 31, 32, 33, 48):  # block boundaries, with and without a trailing separator
        words = " ".join(f"w{i}"[:1] + "x" * i for i in range(n))
        out += [words, words + " ", words + ".", ". " + words]
    for _ in range(3000):
        out.append("".join(rng.choice(PIECES) for _ in range(rng.randint(0, 200))))
    return out


def test_block_count_equals_the_rule_on_random_texts():
    cases = texts()
    con = duckdb.connect()
    con.execute("create table t (i integer, x varchar)")
    con.executemany("insert into t values (?, ?)", list(enumerate(cases)))
    got = dict(con.execute(f"select i, {word_count_sql('x')} from t").fetchall())
    for i, text in enumerate(cases):
        assert got[i] == len(RULE.findall(text or "")), repr(text)
