"""`psw sql`: marts by plain names, three output formats, reads only."""

from __future__ import annotations

import json

import pytest

from psw.commands.sql import check_read_only
from warehouse.errors import UserError
from tests.conftest import Psw


@pytest.fixture
def sql(pilot_db, capsys):
    return Psw(pilot_db, capsys)


def test_marts_by_plain_names_as_json(sql):
    rc, out, _ = sql("sql", "select persona_pair_id, score from template_pair_scores order by score desc limit 1",
                     "--format", "json")
    assert rc == 0
    assert json.loads(out) == [{"persona_pair_id": "wellbeing_authority", "score": 36.6}]


def test_csv_and_table_formats(sql):
    rc, out, _ = sql("sql", "select count(*) as n from examples", "--format", "csv")
    assert rc == 0 and out.splitlines() == ["n", "64"]
    rc, out, _ = sql("sql", "select count(*) as n from template_pair_scores")
    assert rc == 0 and "16" in out


@pytest.mark.parametrize("query", [
    "delete from raw.loads",
    "create table x as select 1",
    "select 1; drop table examples",
    "copy examples to '/tmp/x.csv'",
])
def test_writes_are_refused(sql, query):
    rc, _, err = sql("sql", query)
    assert rc == 2 and err.startswith("error: query:")


def test_bad_sql_is_one_line(sql):
    rc, _, err = sql("sql", "select nope from template_pair_scores")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "nope" in err


def test_check_read_only_accepts_a_select():
    check_read_only("with x as (select 1) select * from x")
    with pytest.raises(UserError):
        check_read_only("insert into t values (1)")


def test_missing_warehouse_says_how_to_build_one(tmp_path, capsys):
    rc = Psw(tmp_path / "none.duckdb", capsys)("sql", "select 1")
    assert rc[0] == 2 and "psw ingest" in rc[2]
