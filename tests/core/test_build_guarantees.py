"""Every kind of guarantee the build checks still stops it: keys unique and not null, values in
range, relationships, accepted values. Each case writes a row that breaks one of them straight
into a raw table (around ingest's own checks, which would refuse most of them) of a warehouse
whose last build succeeded; `psw build` then builds what reads that table, fails with one line
that names the model, the column and the value (each model's guarantees are checked by a
post-hook as it is built: dbt/macros/guarantees.sql), exit 2, and records no build state, so the next build
checks again."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from psw.cli import main
from tests.conftest import REFERENCE
from warehouse import build_state, dbt_runner, empty_models
from warehouse.db import DBT_DIR

PILOT_EXAMPLES = REFERENCE / "v2_pilot_seed23_examples.jsonl"

# a copy of one exported record with new keys, so only the broken field differs; its typed
# `fields` are left NULL, so the build types them from the edited record (ingest/typed.py)
_EXPORTED_COPY = """
    insert into raw.exported_pairs (record_id, load_id, measurement_id, line_no, record, loaded_at, pair_id)
    select md5(record_id || 'copy'), load_id, measurement_id, line_no, {record}, loaded_at, md5(pair_id || 'copy')
    from raw.exported_pairs order by record_id limit 1"""

BREAKS = {
    "key repeated": "insert into raw.exported_pairs select * from raw.exported_pairs order by record_id limit 1",
    "value null": ("insert into raw.persona_pairs (record_id, load_id, line_no, persona_pair_id, record, loaded_at) "
                   "values ('no-poles', 'l', 1, 'no_poles', '{\"id\": \"no_poles\"}', now())"),
    "value out of range": _EXPORTED_COPY.format(record="json_merge_patch(record, '{\"axis_delta\": 99}')"),
    "relationship": """insert into raw.judgments values ('j-orphan', 'no-such-pair', 'm', 'l', 'judge', 'style',
                       'h', 'A', '{}', null, null, now())""",
    "accepted value": """insert into raw.pairs (pair_id, load_id, measurement_id, template_text, persona_pair_id,
                         scenario_text, sample_idx, pos_label, loaded_at)
                         values ('p-label', 'l', 'm', 't {persona}', 'pp', 's', 0, 'C', now())""",
}


# the model, column, value and rule the one error line must name
NAMED = {
    "key repeated": ("stg_raw__exported_pairs", "record_id", r"\w+", "primary key: null or repeated"),
    "value null": ("stg_raw__persona_pairs", "pos_persona", "null", "not null"),
    "value out of range": ("examples", "axis_delta", "99.0", "outside [-8, 8] where not is_error"),
    "relationship": ("stg_raw__judgments", "pair_id", "no-such-pair", "not found in stg_raw__pairs.pair_id"),
    "accepted value": ("stg_raw__pairs", "pos_label", "C", "not one of A, B"),
}


@pytest.fixture(scope="module")
def built(pilot_db, tmp_path_factory) -> Path:
    """The pilot after a plain `psw build` (the build state every case starts from)."""
    db = tmp_path_factory.mktemp("built") / "warehouse.duckdb"
    shutil.copy(pilot_db, db)
    assert main(["--db", str(db), "build"]) == 0
    return db


@pytest.mark.parametrize("kind", BREAKS)
def test_a_broken_guarantee_fails_the_build(kind, built, tmp_path, capsys):
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(built, db)
    with duckdb.connect(str(db)) as con:
        con.execute(BREAKS[kind])
    capsys.readouterr()
    assert main(["--db", str(db), "build"]) == 2
    out, err = capsys.readouterr()
    assert "raw tables changed" in out  # a narrowed build: only what reads the changed table
    model, column, value, rule = NAMED[kind]
    lines = err.strip().splitlines()  # the summary, the failing model, then psw's one line naming the value
    assert lines[0].startswith("dbt build failed: ")
    assert lines[1:-1] and all(line.startswith("  model ") and "(compiled SQL: " in line for line in lines[1:-1])
    assert re.fullmatch(rf"error: dbt build failed: {model}\.{column} = {value}: {re.escape(rule)} \(test \w+\)", lines[-1]), lines[-1]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from meta.last_build").fetchone() == (0,)
        # the failing model's transaction rolled back (dbt/macros/table_materialization.sql): its
        # table holds exactly what the last good build wrote, and no build leaves a table behind
        failed = [re.match(r"  model (\w+): ", line).group(1) for line in lines[1:-1]]
        tables = [name for name in failed if _is_table(con, name)]
        assert not con.execute("select table_name from information_schema.tables "
                               "where table_name like '%\\_\\_dbt\\_%' escape '\\'").fetchall()
    assert tables or kind not in ("key repeated", "relationship")  # the cases whose failing models are tables
    for name in tables:
        assert _contents(db, name) == _contents(built, name), name
    if kind == "value out of range":
        # the examples view notes the measurements it passed, after its checks: a failed check noted
        # nothing, so the next build checks the row again (its models' tables kept it)
        assert main(["--db", str(db), "build"]) == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == lines[-1]


def _is_table(con, name: str) -> bool:
    return con.execute("select count(*) from information_schema.tables where table_name = ? "
                       "and table_type = 'BASE TABLE'", [name]).fetchone()[0] == 1


def _contents(db: Path, name: str) -> tuple:
    """Row count and an order-free checksum of every row of the table `name`."""
    with duckdb.connect(str(db), read_only=True) as con:
        schema = con.execute("select table_schema from information_schema.tables where table_name = ?", [name]).fetchone()[0]
        return con.execute(f'select count(*), sum(hash(t)) from "{schema}"."{name}" as t').fetchone()


def test_an_added_runs_key_repeating_a_kept_row_fails_the_build(built, tmp_path, capsys):
    """An incremental model checks the rows its build wrote (the added run's), but a key is compared
    with every stored row: a kept measurement's row that holds a key the new run writes is a repeat."""
    db = _with_second_run(built, tmp_path)
    with duckdb.connect(str(db)) as con:
        new_pair = con.execute("select pair_id from raw.exported_pairs where measurement_id = 'second_run' "
                               "order by pair_id limit 1").fetchone()[0]
        kept = con.execute("select measurement_id from main.length_deltas where grain = 'pair' limit 1").fetchone()[0]
        # a kept measurement's pair row, copied under the key the new run's first pair will have
        con.execute("create temp table planted as select * from main.length_deltas "
                    "where grain = 'pair' and measurement_id = ? limit 1", [kept])
        con.execute("update planted set length_delta_id = ?", [new_pair])
        con.execute("insert into main.length_deltas select * from planted")
    capsys.readouterr()
    assert main(["--db", str(db), "build"]) == 2
    out, err = capsys.readouterr()
    assert "raw tables changed" in out   # an add-run build: length_deltas recomputes second_run only
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(rf"error: dbt build failed: length_deltas\.length_delta_id = {new_pair}: "
                        r"primary key: null or repeated \(test \w+\)", last), last


def test_an_added_runs_record_repeating_a_kept_record_fails_the_build(built, tmp_path, capsys):
    """A staging model whose rows are each their measurement's own (psw_rows_by_measurement) is checked
    over the measurements its incremental reader recomputes, and its keys against every row: an added
    run's raw record under a kept measurement's record id is a repeat, named in the staging model."""
    db = _with_second_run(built, tmp_path)
    with duckdb.connect(str(db)) as con:
        kept = con.execute("select record_id from raw.exported_pairs where measurement_id <> 'second_run' "
                           "order by record_id limit 1").fetchone()[0]
        con.execute("update raw.exported_pairs set record_id = ? where measurement_id = 'second_run' and record_id = "
                    "(select min(record_id) from raw.exported_pairs where measurement_id = 'second_run')", [kept])
    capsys.readouterr()
    assert main(["--db", str(db), "build"]) == 2
    out, err = capsys.readouterr()
    assert "raw tables changed" in out
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(rf"error: dbt build failed: stg_raw__exported_pairs\.record_id = {kept}: "
                        r"primary key: null or repeated \(test \w+\)", last), last


def test_an_added_runs_rows_are_what_its_incremental_models_check(built, tmp_path, capsys):
    """The scope of an incremental model's checks: the measurements its build recomputed, read from
    the SQL dbt ran (a first build checks every row: no scope)."""
    db = _with_second_run(built, tmp_path)
    assert main(["--db", str(db), "build"]) == 0
    log = (db.parent / f".{db.name}.dbt" / "logs" / "dbt.log").read_text()
    checks = [entry for entry in re.split(r"\n(?=\d\d:\d\d:\d\d\.\d+ )", log)
              if "psw guarantee broken" in entry and "On model.persona_steering_warehouse.length_deltas:" in entry]
    assert checks and all("measurement_id in ('second_run')" in entry for entry in checks)
    # the staging model int_exported_pairs folds in: its rows of that run, its keys against every row
    folded = [entry for entry in re.split(r"\n(?=\d\d:\d\d:\d\d\.\d+ )", log)
              if "psw guarantee broken" in entry and "'stg_raw__exported_pairs' as model_name" in entry]
    assert folded and all("__dbt__cte__stg_raw__exported_pairs as not materialized (" in entry
                          and "where (measurement_id in ('second_run'))" in entry for entry in folded)
    # int_anchored_pairs reads the stored pairs and records of that run only: a constant, which DuckDB
    # pushes into the scans (a subquery on its protocols alone read every stored record)
    anchored = [entry for entry in re.split(r"\n(?=\d\d:\d\d:\d\d\.\d+ )", log)
                if "On model.persona_steering_warehouse.int_anchored_pairs:" in entry and "create temporary table" in entry]
    assert anchored and all(entry.count("measurement_id in (select measurement_id from protocols) and "
                                        "(measurement_id in ('second_run'))") == 3 for entry in anchored)


def test_the_examples_view_checks_its_rows_by_measurement(built, tmp_path, capsys):
    """The examples view's rules on a row's own values and its key read the measurements it has not passed
    at their version and definitions (here the added run); its relationship reads every row of
    int_pairs_scored. A kept measurement is checked again when the note of what passed differs (a view's
    definition changed)."""
    db = _with_second_run(built, tmp_path)
    assert main(["--db", str(db), "build"]) == 0
    checks = _examples_checks(db)
    assert checks and all('with _psw_in_scope as materialized (select * from "warehouse"."main"."examples" '
                          "where (measurement_id in ('second_run')))" in entry for entry in checks)
    assert all("_psw_checked" not in entry and "from _psw_in_scope where (true)\ngroup by pair_id" in entry
               and 'from "warehouse"."intermediate"."int_pairs_scored" where cell_id is not null and cell_id not in'
               in entry for entry in checks)
    with duckdb.connect(str(db)) as con:
        noted = dict(con.execute("select measurement_id, count(*) from meta.incremental_versions "
                                 "where relation like '%\"examples\"' group by all").fetchall())
        measured = {m for m, in con.execute("select distinct measurement_id from intermediate.int_pairs_scored").fetchall()}
        assert set(noted) == measured and "second_run" in measured and set(noted.values()) == {1}
        kept = next(m for m in noted if m != "second_run")
        pair = con.execute("select min(pair_id) from intermediate.int_pairs_scored where measurement_id = ?", [kept]).fetchone()[0]
        con.execute("update intermediate.int_pairs_scored set axis_delta = 99 where pair_id = ?", [pair])
        con.execute("update meta.incremental_versions set measurement_version = measurement_version || ' before' "
                    "where relation like '%\"examples\"' and measurement_id = ?", [kept])
    capsys.readouterr()
    assert main(["--db", str(db), "build", "--force"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.fullmatch(r"error: dbt build failed: examples\.axis_delta = 99\.0: outside \[-8, 8\] where not is_error \(test \w+\)", last), last


def test_the_examples_view_checks_a_kept_measurements_key_again_and_every_rows_relationship(built, tmp_path, capsys):
    """A key repeated within a kept measurement (planted in int_pairs_scored, whose own check reads the
    measurements it recomputes) fails once the view's note of that measurement differs; a kept row whose
    cell is not in template_pair_scores fails while the note is current (the relationship reads every row)."""
    db = _with_second_run(built, tmp_path)
    assert main(["--db", str(db), "build"]) == 0
    with duckdb.connect(str(db)) as con:
        kept, pair = con.execute("select measurement_id, min(pair_id) from intermediate.int_pairs_scored "
                                 "where measurement_id <> 'second_run' group by all").fetchone()
        con.execute("insert into intermediate.int_pairs_scored select * from intermediate.int_pairs_scored where pair_id = ?", [pair])
    capsys.readouterr()
    assert main(["--db", str(db), "build", "--force"]) == 0   # the note is current: the kept rows are not read
    with duckdb.connect(str(db)) as con:
        con.execute("update meta.incremental_versions set measurement_version = measurement_version || ' before' "
                    "where relation like '%\"examples\"' and measurement_id = ?", [kept])
    capsys.readouterr()
    assert main(["--db", str(db), "build", "--force"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"error: dbt build failed: examples.pair_id = {pair}: primary key: null or repeated (test examples_guarantees)"
    with duckdb.connect(str(db)) as con:
        con.execute("delete from intermediate.int_pairs_scored where pair_id = ? and rowid <> "
                    "(select min(rowid) from intermediate.int_pairs_scored where pair_id = ?)", [pair, pair])
    assert main(["--db", str(db), "build", "--force"]) == 0   # checked again, passed, noted
    with duckdb.connect(str(db)) as con:
        for table in ("intermediate.int_pairs_scored", "intermediate.int_exported_pairs"):
            con.execute(f"update {table} set cell_id = 'nowhere' where pair_id = ?", [pair])
    capsys.readouterr()
    assert main(["--db", str(db), "build", "--force"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == ("error: dbt build failed: examples.cell_id = nowhere: not found in template_pair_scores.cell_id "
                    "(test examples_guarantees)")


def _examples_checks(db: Path) -> list[str]:
    """The statements of dbt's last builds of the warehouse that checked the examples view."""
    log = (db.parent / f".{db.name}.dbt" / "logs" / "dbt.log").read_text()
    return [entry for entry in re.split(r"\n(?=\d\d:\d\d:\d\d\.\d+ )", log)
            if "psw guarantee broken" in entry and "'examples' as model_name" in entry]


def _with_second_run(built: Path, tmp_path: Path) -> Path:
    """A copy of the built pilot with the pilot's pairs ingested again as measurement second_run."""
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(built, db)
    run = tmp_path / "second_run.jsonl"
    shutil.copy(PILOT_EXAMPLES, run)
    assert main(["--db", str(db), "ingest", str(run), "--measurement", "second_run"]) == 0
    return db


def test_a_seed_edited_to_break_its_guarantees_fails_the_build(built, tmp_path, monkeypatch, capsys):
    """model_prices.csv is a file users edit (a price per model): a model given two prices would
    be priced twice by the costs mart. Its guarantees are checked as the seed loads (a post-hook,
    as for models), so the plain build after the edit fails with one line naming the value."""
    project = tmp_path / "dbt"
    shutil.copytree(DBT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    prices = project / "seeds" / "model_prices.csv"
    original = prices.read_text()
    repeated = original.splitlines()[1].split(",")[0]
    prices.write_text(original + f'{repeated},9.99,9.99,"a second price for the same model"\n')
    for module in (dbt_runner, build_state, empty_models):   # psw builds this project, not the checkout's
        monkeypatch.setattr(module, "DBT_DIR", project)
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(built, db)
    capsys.readouterr()
    assert main(["--db", str(db), "build"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.fullmatch(rf"error: dbt build failed: model_prices\.model = {re.escape(repeated)}: "
                        r"primary key: null or repeated \(test model_prices_guarantees\)", last), last
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from meta.last_build").fetchone() == (0,)
    # and a price must be a number >= 0 (the mart multiplies tokens by it)
    prices.write_text(original + 'new/model,1.0,-2,"a negative price"\n')
    assert main(["--db", str(db), "build"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == ("error: dbt build failed: model_prices.completion_usd_per_mtok = -2.0: "
                    "not true: completion_usd_per_mtok >= 0 (test model_prices_guarantees)"), last
