"""A full build makes the table models that read only empty raw tables as an earlier build of the same
project made them, and dbt leaves them out (warehouse/empty_models.py): the warehouse is the same,
relation by relation, as one where dbt built them."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from types import SimpleNamespace

import duckdb

from warehouse import empty_models

from tests.conftest import REFERENCE

EXAMPLES = REFERENCE / "v2_pilot_seed23_examples.jsonl"
DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
DBT_SEEDS = Path(__file__).resolve().parents[2] / "dbt" / "seeds"


def _models_run(db: Path) -> set[str]:
    """The models and seeds dbt ran in its last invocation on this warehouse."""
    log = (db.parent / f".{db.name}.dbt" / "logs" / "dbt.log").read_text()
    return set(re.findall(r"Began running node (?:model|seed)\.\w+\.(\w+)", log[log.rindex("Running with dbt="):]))


def _catalog(db: Path) -> dict:
    """Every relation psw derives: its kind, comment, columns (type, nullability, default, comment),
    constraints and a view's SQL. (Rows differ between two warehouses: their loads' times are in them.)"""
    with duckdb.connect(str(db), read_only=True) as con:
        relations = con.execute("""
            select schema_name, table_name, 'table', comment, null from duckdb_tables()
            where schema_name not in ('raw', 'meta')
            union all select schema_name, view_name, 'view', comment, sql from duckdb_views()
            where not internal and schema_name not in ('raw', 'meta') order by all""").fetchall()
        out = {}
        for schema, name, kind, comment, sql in relations:
            columns = con.execute("select column_name, data_type, is_nullable, column_default, comment "
                                  "from duckdb_columns() where schema_name = ? and table_name = ? "
                                  "order by column_index", [schema, name]).fetchall()
            constraints = sorted(con.execute("select constraint_type, constraint_text from duckdb_constraints() "
                                             "where schema_name = ? and table_name = ?", [schema, name]).fetchall())
            out[f"{schema}.{name}"] = (kind, comment, columns, constraints, sql)
        return out


def _rows(db: Path, relations) -> dict[str, list[str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {r: sorted(row[0] for row in con.execute(f"select t::varchar from {r} as t").fetchall())
                for r in relations}


def test_a_full_build_makes_the_empty_models_as_dbt_did_and_later_runs_fill_them(psw, tmp_path, monkeypatch):
    monkeypatch.setattr(empty_models, "KEPT_DIR", tmp_path / "kept")
    assert psw("ingest", EXAMPLES)[0] == 0
    rc, _, err = psw("build")   # nothing kept yet: dbt builds every model, and the empty ones are kept
    assert rc == 0, err
    (kept,) = (tmp_path / "kept").iterdir()
    names = {m["name"] for m in json.loads(kept.read_text())["models"]}
    # the pilot holds exported pairs alone: the activation, steering, selection, cost and judge-call
    # tables read nothing; what reads the pairs, and any view or incremental model, is never kept
    assert {"costs", "trait_geometry", "selections", "int_judgments_unblinded"} <= names
    assert {"model_prices", "judge_dimensions"} <= names   # the seeds, rows and all
    assert {"stg_raw__templates", "stg_raw__scenarios"} <= names   # views over empty raw tables
    # tables that read the pairs too, but whose rows all come through the (empty) extraction tables
    assert {"layer_choice", "pair_screening", "projection_distribution", "activation_cell_stats"} <= names
    # ... or through generated pairs, judge calls or scenarios, which a file of exported pairs has none of
    assert {"int_pair_lexical_checks", "int_pairs_judged", "int_pair_ratings", "scenarios"} <= names
    assert not names & {"template_pair_scores", "int_pairs_scored", "examples", "stg_raw__measurements",
                        "int_pair_judge_axis"}
    assert names <= _models_run(psw.db)

    other = tmp_path / "other" / "warehouse.duckdb"
    rc, _, err = psw("--db", other, "ingest", EXAMPLES)
    assert rc == 0, err
    rc, out, err = psw("--db", other, "build")
    assert rc == 0, err
    assert not names & _models_run(other)          # made from the record; dbt left them out
    made = [f"{m['schema']}.{m['identifier']}" for m in json.loads(kept.read_text())["models"]]
    assert _catalog(other) == _catalog(psw.db)     # every relation the same, comments included
    seeds = ["main.model_prices", "main.judge_dimensions"]
    assert _rows(other, made) == _rows(psw.db, made)
    assert all(rows for r, rows in _rows(other, seeds).items())
    for db in (psw.db, other):   # in the CSV's order, which the judge panels are read in (order by rowid)
        with duckdb.connect(str(db), read_only=True) as con:
            assert [n for (n,) in con.execute("select name from main.judge_dimensions order by rowid").fetchall()] \
                == [row["name"] for row in csv.DictReader((DBT_SEEDS / "judge_dimensions.csv").open())]
    assert all(not rows for r, rows in _rows(other, made).items() if r not in seeds)

    # a run that fills raw tables they read: the next build computes them, as a fresh build does
    artifact = DEMO / "demo_run_artifact.json"
    for db in (psw.db, other):
        rc, _, err = psw("--db", db, "ingest", DEMO / "persona_pairs.jsonl", DEMO / "templates.txt",
                         DEMO / "scenarios.jsonl", artifact)
        assert rc == 0, err
        rc, _, err = psw("--db", db, "build")
        assert rc == 0, err
    assert {"costs", "int_judgments_unblinded", "int_pairs_judged", "int_pair_ratings", "scenarios"} <= _models_run(other)
    assert _catalog(other) == _catalog(psw.db)
    # and they hold what dbt computes when it builds everything again on the same warehouse
    row_level = ["intermediate.int_judgments_unblinded", "intermediate.int_judge_axis_orders", "main.selections",
                 "intermediate.int_pairs_judged", "intermediate.int_pair_ratings", "main.scenarios"]
    filled = _rows(other, row_level)
    assert filled["intermediate.int_judgments_unblinded"] and filled["intermediate.int_pairs_judged"]
    assert filled["intermediate.int_pair_ratings"] and filled["main.scenarios"]
    rc, _, err = psw("--db", other, "build", "--force")
    assert rc == 0, err
    assert "int_judgments_unblinded" in _models_run(other)
    assert _rows(other, row_level) == filled


def test_a_narrowed_build_or_a_warehouse_holding_the_model_makes_nothing(psw, tmp_path, monkeypatch):
    monkeypatch.setattr(empty_models, "KEPT_DIR", tmp_path / "kept")
    assert psw("ingest", EXAMPLES)[0] == 0
    assert psw("build")[0] == 0
    # a rebuild of everything (--force): the tables are there, so dbt builds them again
    rc, _, err = psw("build", "--force")
    assert rc == 0, err
    assert "costs" in _models_run(psw.db)
    other = tmp_path / "other" / "warehouse.duckdb"
    assert psw("--db", other, "ingest", EXAMPLES)[0] == 0
    rc, _, err = psw("--db", other, "build", "--select", "model_prices", "costs")   # narrowed: as asked
    assert rc == 0, err
    assert _models_run(other) == {"model_prices", "costs"}


def test_a_record_duckdb_refuses_makes_nothing_and_dbt_builds_them(psw, tmp_path, monkeypatch):
    monkeypatch.setattr(empty_models, "KEPT_DIR", tmp_path / "kept")
    assert psw("ingest", EXAMPLES)[0] == 0
    assert psw("build")[0] == 0
    (kept,) = (tmp_path / "kept").iterdir()
    record = json.loads(kept.read_text())
    record["models"][-1]["ddl"] = "CREATE TABLE broken(x NOT_A_TYPE);"
    kept.write_text(json.dumps(record))
    other = tmp_path / "other" / "warehouse.duckdb"
    assert psw("--db", other, "ingest", EXAMPLES)[0] == 0
    rc, _, err = psw("--db", other, "build")
    assert rc == 0, err
    assert {m["name"] for m in record["models"]} <= _models_run(other)
    with duckdb.connect(str(other), read_only=True) as con:
        assert con.execute("select count(*) from duckdb_tables() where table_name = 'broken'").fetchone()[0] == 0


def test_a_declaration_names_only_tables_the_model_reads():
    """`psw_empty_without` narrows what a model's emptiness depends on; it cannot name a table the model
    does not read (nor be empty), and a model that reads something other than raw tables stays unmade."""
    def node(meta):
        return SimpleNamespace(config=SimpleNamespace(meta=meta))
    reads = ("activation_vectors", "exported_pairs", "measurements")
    assert empty_models._emptied_by(node({}), reads) == reads
    declared = node({"psw_empty_without": ["activation_vectors"]})
    assert empty_models._emptied_by(declared, reads) == ("activation_vectors",)
    assert empty_models._emptied_by(node({"psw_empty_without": ["activation_runs"]}), reads) is None
    assert empty_models._emptied_by(node({"psw_empty_without": []}), reads) is None
    assert empty_models._emptied_by(node({"psw_empty_without": "activation_vectors"}), reads) is None
    assert empty_models._emptied_by(node({"psw_empty_without": ["activation_vectors"]}), None) is None
