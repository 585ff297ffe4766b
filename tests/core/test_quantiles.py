"""dbt's quantile macros (macros/quantiles.sql), which the analytic score interval reads: Student's t
by Hill's algorithm and the normal by Acklam's, run in DuckDB against printed tables (scipy is not a
dependency). The tables give 3 decimals (t) and 6 (normal); the macros are far closer than that
(measured against scipy's t.ppf: a relative 7e-6 at worst, at 3-7 degrees of freedom)."""

from __future__ import annotations

import duckdb
import jinja2
import pytest

from warehouse.db import DBT_DIR

# Student's t upper quantiles (Fisher and Yates's table; any statistics text): prob -> {df: t}
T_TABLE = {
    0.9: {1: 3.078, 2: 1.886, 4: 1.533, 10: 1.372, 60: 1.296},
    0.95: {1: 6.314, 2: 2.920, 3: 2.353, 7: 1.895, 20: 1.725, 120: 1.658},
    0.975: {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 7: 2.365, 10: 2.228, 29: 2.045, 30: 2.042,
            60: 2.000, 120: 1.980},
    0.995: {1: 63.657, 2: 9.925, 3: 5.841, 5: 4.032, 10: 3.169, 29: 2.756},
    0.9995: {1: 636.619, 3: 12.924, 10: 4.587},
}
NORMAL = {0.8: 0.841621, 0.9: 1.281552, 0.975: 1.959964, 0.995: 2.575829, 0.9995: 3.290527, 0.025: -1.959964}


@pytest.fixture(scope="module")
def macros():
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    return env.from_string((DBT_DIR / "macros" / "quantiles.sql").read_text()).module


@pytest.mark.parametrize("prob", list(T_TABLE))
def test_student_t_matches_the_table(macros, prob):
    dfs = "select unnest(" + str(list(T_TABLE[prob])) + ") as df"
    got = dict(duckdb.connect().execute(str(macros.student_t_quantiles(prob, dfs))).fetchall())
    for df, want in T_TABLE[prob].items():
        assert got[df] == pytest.approx(want, abs=0.0005 + 1e-12), (prob, df)


def test_student_t_tends_to_the_normal_and_falls_with_df(macros):
    con = duckdb.connect()
    rows = con.execute(str(macros.student_t_quantiles(0.975, "select unnest(range(1, 2001)) as df"))).fetchall()
    t = [value for _, value in sorted(rows)]
    assert all(a > b for a, b in zip(t, t[1:]))
    big = con.execute(str(macros.student_t_quantiles(0.975, "select 1000000 as df"))).fetchone()[1]
    assert big == pytest.approx(1.959964, abs=1e-5)


@pytest.mark.parametrize("prob", list(NORMAL))
def test_normal_matches_the_table(macros, prob):
    got = duckdb.connect().execute("select " + str(macros.normal_quantile(prob))).fetchone()[0]
    assert got == pytest.approx(NORMAL[prob], abs=2e-6)
