"""Models incremental by measurement (dbt/macros/incremental.sql): adding a run recomputes
that run's rows only, the result equals a full rebuild, and a changed var recomputes all."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from psw.cli import main
from warehouse.db import DBT_DIR

from tests.conftest import REFERENCE
from tests.core.test_controls_across_files import ENGINEERED, _pair, _write

INCREMENTAL = ["intermediate.int_pairs_scored", "intermediate.int_cell_metrics", "main.template_scores",
               "intermediate.int_cell_scores", "main.length_deltas", "main.stage_screens", "main.template_pair_scores",
               "main.upstream_summaries"]
FIRST = "v2_pilot_seed23"


def _rowids(db: Path, table: str, measurement: str) -> list[int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [r[0] for r in con.execute(
            f"select rowid from {table} where measurement_id = ? order by rowid", [measurement]).fetchall()]


def _assert_same(db: Path, other: Path, table: str, key: str) -> None:
    """Equal row sets; doubles within 1e-12 (sums over a different order differ in the last bit)."""
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute(f"attach '{other}' as other (read_only)")
        name = con.execute("select current_database()").fetchone()[0]
        cols = con.execute(f"select column_name, data_type from information_schema.columns "
                           f"where table_catalog = '{name}' and table_schema || '.' || table_name = '{table}'"
                           ).fetchall()
        assert cols, table
        assert con.execute(f"select count(*) from {table}").fetchone() == \
            con.execute(f"select count(*) from other.{table}").fetchone()
        for col, dtype in cols:
            same = (f"abs(a.{col} - b.{col}) <= 1e-12 or (a.{col} is null and b.{col} is null)"
                    if dtype == "DOUBLE" else f"a.{col} is not distinct from b.{col}")
            on = " and ".join(f"a.{k} is not distinct from b.{k}" for k in key.split(", "))   # a key part may be null
            bad = con.execute(f"select count(*) from {table} a full join other.{table} b on {on} "
                              f"where not ({same})").fetchone()[0]
            assert bad == 0, f"{table}.{col}: {bad} rows differ from a full rebuild"


# the ids of the measurements a build recomputes are written into the models' SQL as constants
# (measurements_to_build): a quote in one stays text, never SQL
@pytest.mark.parametrize("second_id", ["second", "it's a run') or true --"])
def test_adding_a_run_recomputes_only_that_run(pilot_copy, tmp_path, second_id):
    before = {t: _rowids(pilot_copy, t, FIRST) for t in INCREMENTAL}
    assert all(before.values())
    second = tmp_path / "second_examples.jsonl"
    shutil.copy(REFERENCE / "v2_pilot_seed23_examples.jsonl", second)
    assert main(["--db", str(pilot_copy), "ingest", str(second), "--measurement", second_id]) == 0
    assert main(["--db", str(pilot_copy), "build"]) == 0

    # the first measurement's rows were left where they were: not deleted and rewritten
    for table in INCREMENTAL:
        assert _rowids(pilot_copy, table, FIRST) == before[table], table
        assert _rowids(pilot_copy, table, second_id), table
    # the run's ids reached the compiled SQL as one quoted literal
    compiled = (pilot_copy.parent / f".{pilot_copy.name}.dbt" / "target" / "compiled" / "persona_steering_warehouse"
                / "models" / "intermediate" / "int_exported_pairs.sql").read_text()
    assert "measurement_id in ('" + second_id.replace("'", "''") + "')" in compiled

    full = tmp_path / "full" / "warehouse.duckdb"
    full.parent.mkdir()
    shutil.copy(pilot_copy, full)
    assert main(["--db", str(full), "build", "--full-refresh"]) == 0
    for table, key in [("main.template_pair_scores", "id"), ("main.length_deltas", "length_delta_id"),
                       ("intermediate.int_pairs_scored", "pair_id"), ("main.template_scores", "id"),
                       ("main.stage_screens", "cell_id")]:
        _assert_same(pilot_copy, full, table, key)


def test_a_build_that_selects_one_incremental_model_recomputes_only_the_new_run(pilot_copy, tmp_path):
    """Without int_measurement_versions in the selection (whose post-hook reads the stale measurements
    for every incremental model), the model reads them itself as it compiles."""
    before = _rowids(pilot_copy, "intermediate.int_exported_pairs", FIRST)
    second = tmp_path / "second_examples.jsonl"
    shutil.copy(REFERENCE / "v2_pilot_seed23_examples.jsonl", second)
    assert main(["--db", str(pilot_copy), "ingest", str(second)]) == 0
    assert main(["--db", str(pilot_copy), "build", "--select", "int_exported_pairs"]) == 0
    assert _rowids(pilot_copy, "intermediate.int_exported_pairs", FIRST) == before
    assert len(_rowids(pilot_copy, "intermediate.int_exported_pairs", "second")) == len(before)


def test_a_build_reads_the_versions_from_the_copy_its_versions_view_made(pilot_copy, tmp_path):
    """int_measurement_versions (a view over every raw row) is copied once per build into
    meta.build_measurement_versions; the models built after it read the copy, which holds this build's
    versions (the stale copy of an earlier build is never read: the test above builds without the view)."""
    second = tmp_path / "second_examples.jsonl"
    shutil.copy(REFERENCE / "v2_pilot_seed23_examples.jsonl", second)
    assert main(["--db", str(pilot_copy), "ingest", str(second)]) == 0
    assert main(["--db", str(pilot_copy), "build"]) == 0
    with duckdb.connect(str(pilot_copy), read_only=True) as con:
        view = con.execute("select * from intermediate.int_measurement_versions order by all").fetchall()
        assert len(view) == 2
        assert con.execute("select * from meta.build_measurement_versions order by all").fetchall() == view
    log = (pilot_copy.parent / f".{pilot_copy.name}.dbt" / "logs" / "dbt.log").read_text().split("\n" + "=" * 30)[-1]
    built = [entry for entry in re.split(r"\n(?=\d\d:\d\d:\d\d\.\d+ )", log)
             if "On model.persona_steering_warehouse.int_pairs_scored:" in entry and "create temporary table" in entry]
    assert built and all('"meta"."build_measurement_versions"' in entry
                         and '"intermediate"."int_measurement_versions"' not in entry.split("*/", 1)[1].replace(
                             '-- depends_on: "warehouse"."intermediate"."int_measurement_versions"', '')
                         for entry in built), built


def test_changing_a_var_recomputes_every_measurement(pilot_copy):
    def strict_rates() -> list[float]:
        with duckdb.connect(str(pilot_copy), read_only=True) as con:
            return [r[0] for r in con.execute(
                "select strict_pass_rate from template_pair_scores order by id").fetchall()]

    rates = strict_rates()
    assert any(r > 0 for r in rates)
    assert main(["--db", str(pilot_copy), "build", "--vars", "{strict_min_axis_delta: 9}"]) == 0
    assert all(r == 0 for r in strict_rates())  # axis_delta is at most 8: nothing passes
    assert main(["--db", str(pilot_copy), "build"]) == 0
    assert strict_rates() == rates


def test_every_project_var_is_part_of_the_measurement_version():
    project = yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text())
    macro = (DBT_DIR / "macros" / "incremental.sql").read_text()
    listed = set(re.findall(r"'([a-z_]+)'", macro.split("derivation_vars_json")[1]))
    missing = set(project["vars"]) - listed
    assert not missing, f"vars missing from derivation_vars_json(): {sorted(missing)}"


@pytest.mark.parametrize("table", INCREMENTAL)
def test_incremental_models_store_the_version_they_were_built_from(pilot_db, table):
    with duckdb.connect(str(pilot_db), read_only=True) as con:
        stored = con.execute(f"select distinct measurement_id, measurement_version from {table}").fetchall()
        current = dict(con.execute(
            "select measurement_id, measurement_version from intermediate.int_measurement_versions").fetchall())
    assert stored and all(current[m] == v for m, v in stored)


def test_tables_from_before_the_versions_are_upgraded_in_place(pilot_copy, tmp_path):
    """A warehouse built by an older psw (no measurement_version column) builds without
    --full-refresh: the column is added and every measurement recomputed."""
    reference = tmp_path / "reference.duckdb"
    shutil.copy(pilot_copy, reference)
    with duckdb.connect(str(pilot_copy)) as con:
        for table in INCREMENTAL:
            con.execute(f"alter table {table} drop column measurement_version")
            con.execute(f"update {table} set measurement_id = measurement_id")  # rows stay, version gone
    # the project an older psw built with hashes differently, so psw builds everything (as --force)
    assert main(["--db", str(pilot_copy), "build", "--force"]) == 0
    for table in INCREMENTAL:
        with duckdb.connect(str(pilot_copy), read_only=True) as con:
            assert con.execute(f"select count(*) from {table} where measurement_version is null").fetchone()[0] == 0
    for table, key in [("main.template_pair_scores", "id"), ("main.length_deltas", "length_delta_id"),
                       ("main.template_scores", "id"), ("main.stage_screens", "cell_id")]:
        _assert_same(pilot_copy, reference, table, key)


def test_a_stored_column_of_an_older_type_takes_the_models_type(pilot_copy):
    """on_schema_change='sync_all_columns': a plain build finds each stored column whose type is not
    the model's (dbt's diff_column_data_types, psw's lookup by name in macros/incremental.sql) and
    alters it, the other columns untouched."""
    def types(table: str) -> dict[str, str]:
        with duckdb.connect(str(pilot_copy), read_only=True) as con:
            return dict(con.execute(f"select column_name, column_type from (describe {table})").fetchall())

    table = "intermediate.int_cell_metrics"
    built = types(table)
    assert built["n_success"] == "BIGINT" and built["cell_id"] == "VARCHAR"
    with duckdb.connect(str(pilot_copy)) as con:
        con.execute(f"alter table {table} alter column n_success type varchar")   # an older release's type
    assert types(table)["n_success"] == "VARCHAR"
    assert main(["--db", str(pilot_copy), "build", "--force"]) == 0
    assert types(table) == built


def test_a_later_control_arm_or_persona_pair_recomputes_the_cells_that_show_it(psw, tmp_path):
    """template_pair_scores is incremental by measurement, and a cell also reads what is not its
    measurement's own rows (macros/contexts.sql): a control arm another file brings, a persona
    pair defined again. The measurements that show the change are recomputed, the others left where
    they were, and the table equals a full rebuild after each step."""
    scenarios = ["s1", "s2", "s3", "s4"]
    engineered = _write(tmp_path / "engineered_examples.jsonl", [_pair(ENGINEERED, "kind_engineered", s, 6.0) for s in scenarios])
    elsewhere = _write(tmp_path / "elsewhere_examples.jsonl", [_pair("", "kind", s, 0.0) for s in ("t1", "t2", "t3", "t4")])
    for path in (engineered, elsewhere):
        assert psw("ingest", path)[0] == 0
    assert psw("build")[0] == 0

    def cells(measurement: str) -> list[tuple]:
        with duckdb.connect(str(psw.db), read_only=True) as con:
            return con.execute("select cell_id, control_cell_id, axis_delta_vs_control, positive_behavior "
                               "from main.template_pair_scores where measurement_id = ? order by cell_id",
                               [measurement]).fetchall()

    def recomputed() -> list[str]:
        """The measurements the last build of template_pair_scores recomputed, from its compiled SQL
        (rowids cannot tell: DuckDB renumbers the rows after deleted ones when it checkpoints)."""
        sql = (psw.db.parent / f".{psw.db.name}.dbt" / "target" / "compiled" / "persona_steering_warehouse" / "models"
               / "marts" / "core" / "template_pair_scores.sql").read_text()
        (ids,) = re.findall(r"and \(guide\.measurement_id in \(([^)]*)\)\)", sql)
        return re.findall(r"'([^']*)'", ids)

    def same_as_a_full_rebuild(step: str) -> None:
        full = tmp_path / step / "warehouse.duckdb"
        full.parent.mkdir()
        shutil.copy(psw.db, full)
        assert main(["--db", str(full), "build", "--full-refresh"]) == 0
        _assert_same(psw.db, full, "main.template_pair_scores", "id")
        _assert_same(psw.db, full, "main.upstream_summaries", "level, measurement_id, template_text, persona_pair_id")

    assert [c[1:3] for c in cells("engineered")] == [(None, None)]
    kept = cells("elsewhere")

    # a control arm on the engineered cell's scenarios arrives in a third file
    control = _write(tmp_path / "control_examples.jsonl", [_pair("", "kind", s, 2.0) for s in scenarios])
    assert psw("ingest", control)[0] == 0
    assert psw("build")[0] == 0
    (row,) = cells("engineered")
    assert row[1:3] == (cells("control")[0][0], 4.0)
    assert recomputed() == ["control", "engineered"]   # not elsewhere: its own control arm is its control
    assert cells("elsewhere") == kept
    same_as_a_full_rebuild("after-control")

    # the persona pair `kind` defined (again): the cells of that pair show it, the engineered one does not
    kept = cells("engineered")
    pairs = tmp_path / "persona_pairs.jsonl"
    pairs.write_text(json.dumps({"id": "kind", "pos": "a kind person", "neg": "a cruel person",
                                 "positive_behavior": "helps", "negative_behavior": "harms"}) + "\n")
    assert psw("ingest", pairs)[0] == 0
    assert psw("build")[0] == 0
    assert [c[3] for c in cells("elsewhere") + cells("control")] == ["helps", "helps"]
    assert recomputed() == ["control", "elsewhere"]
    assert cells("engineered") == kept
    same_as_a_full_rebuild("after-persona-pair")


def test_a_measurement_with_no_rows_in_a_model_is_not_recomputed_by_it_again(pilot_copy, tmp_path):
    """The anchored protocol's models hold no row of a guide measurement, so no version beside its rows
    says they computed it: meta.incremental_versions does, and adding a run recomputes that run only
    (before the note, every build recomputed every guide measurement in them, to nothing). Without the
    note (a warehouse from before it), every measurement is recomputed once and noted."""
    def recomputed() -> list[str]:
        sql = (pilot_copy.parent / f".{pilot_copy.name}.dbt" / "target" / "compiled" / "persona_steering_warehouse"
               / "models" / "intermediate" / "int_anchored_pairs.sql").read_text()
        (ids,) = re.findall(r"where protocol = 'anchored' and \(measurement_id in \(([^)]*)\)\)", sql)
        return re.findall(r"'([^']*)'", ids)

    def noted() -> set[str]:
        with duckdb.connect(str(pilot_copy), read_only=True) as con:
            return {m for (m,) in con.execute("select measurement_id from meta.incremental_versions "
                                              "where relation like '%int_anchored_pairs%'").fetchall()}

    assert noted() == {FIRST}
    second = tmp_path / "second_examples.jsonl"
    shutil.copy(REFERENCE / "v2_pilot_seed23_examples.jsonl", second)
    assert main(["--db", str(pilot_copy), "ingest", str(second), "--measurement", "second"]) == 0
    assert main(["--db", str(pilot_copy), "build"]) == 0
    assert recomputed() == ["second"]
    assert noted() == {FIRST, "second"}

    with duckdb.connect(str(pilot_copy)) as con:
        con.execute("drop table meta.incremental_versions")
    assert main(["--db", str(pilot_copy), "build", "--force"]) == 0
    assert recomputed() == ["second", FIRST]
    assert noted() == {FIRST, "second"}
