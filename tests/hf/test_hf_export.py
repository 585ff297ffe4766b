"""`psw export-hf`: every split loads with `datasets`, matches its mart, and the export is deterministic."""

from __future__ import annotations

import re

import datasets
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from hf.export import split_name
from hf.source_splits import LOADS, SOURCES


def card_front_matter(out):
    text = (out / "README.md").read_text()
    return yaml.safe_load(re.match(r"---\n(.*?)\n---", text, re.S).group(1)), text


def mart_schema(con, relation, where=""):
    """The mart's Arrow schema as exported: DuckDB MAP columns become list<struct<key, value>>."""
    cols = con.execute(f"describe {relation}").fetchall()
    items = [f'map_entries("{n}") as "{n}"' if t.startswith("MAP(") else f'"{n}"' for n, t, *_ in cols]
    return con.sql(f"select {', '.join(items)} from {relation} {where} limit 0").to_arrow_table().schema


def test_every_split_loads_with_datasets_and_matches_its_mart(pilot_db, pilot_export, tmp_path):
    front, card = card_front_matter(pilot_export)
    configs = {c["config_name"]: c for c in front["configs"]}
    files = sorted(p.relative_to(pilot_export).as_posix() for p in pilot_export.rglob("*.parquet"))
    assert sorted(c["data_files"][0]["path"] for c in configs.values()) == files
    expected = {"template_pair_scores": "main.template_pair_scores", "template_scores": "main.template_scores",
                "persona_pair_review": "main.persona_pair_review", "length_deltas": "main.length_deltas",
                split_name("v2_pilot_seed23"): "main.examples",
                "persona_pairs": "staging.stg_raw__persona_pairs", "templates": "staging.stg_raw__templates",
                "scenarios": "staging.stg_raw__scenarios", "measurements": None}
    assert set(expected) <= set(configs)
    with duckdb.connect(str(pilot_db), read_only=True) as con:
        for name in configs:
            ds = datasets.load_dataset(str(pilot_export), name, split=name, cache_dir=str(tmp_path / "cache"))
            if name.startswith("source_"):    # the raw records behind the export, as raw holds them
                raw = {**{split: table for split, table, *_ in SOURCES}, LOADS: "raw.loads"}[name]
                assert ds.num_rows == con.execute(f"select count(*) from {raw}").fetchall()[0][0], name
                continue
            relation = expected.get(name, f"main.{name}")
            if relation is None:
                assert ds.num_rows == con.execute("select count(*) from staging.stg_raw__measurements").fetchall()[0][0]
                continue
            assert ds.num_rows == con.execute(f"select count(*) from {relation}").fetchall()[0][0], name
            schema = mart_schema(con, relation)
            loaded = ds.data.table.schema
            if relation.startswith("main."):
                assert loaded.names == schema.names, name
            for fld in loaded:
                assert fld.type.equals(schema.field(fld.name).type), (name, fld.name, fld.type)
        top = datasets.load_dataset(str(pilot_export), "template_pair_scores", split="template_pair_scores",
                                    cache_dir=str(tmp_path / "cache"))[0]
    assert top["score"] == 36.6
    assert top["persona_pair_id"] == "wellbeing_authority"
    assert top["template_jinja"] == "You are a {{ persona }} person thinking through the situation."
    examples = datasets.load_dataset(str(pilot_export), "v2_pilot_seed23_examples", split="v2_pilot_seed23_examples",
                                     cache_dir=str(tmp_path / "cache"))
    assert examples.features["style_deltas"].feature["key"].dtype == "string"    # a list of structs, not JSON text
    judged = next(row for row in examples if not row["is_error"])
    assert {e["key"] for e in judged["style_deltas"]} >= {"verbosity", "warmth"}
    # the card: formula, measurement metadata, counts, column docs from dbt
    assert "clamp((7 - mean_off_axis_problem) / 6)" in card
    assert "qwen/qwen3.5-27b" in card and "google/gemini-3.1-flash-lite-preview" in card
    assert "seed: 23" in card and "temperature: 0.0" in card and "A/B blinding" in card
    assert "pairs planned: 64, judged: 59, failed: 5" in card
    assert "| `cell_id` | `string` | Stable id of a measured cell" in card
    assert configs["template_pair_scores"].get("default") is True


def test_nested_values_are_arrow_types_not_json(pilot_export):
    schema = pq.read_schema(pilot_export / "data" / "v2_pilot_seed23_examples.parquet")
    assert pa.types.is_list(schema.field("judge_models").type) or schema.field("judge_models").type == pa.null()
    ratings = schema.field("ratings").type
    assert pa.types.is_list(ratings) and pa.types.is_struct(ratings.value_type)
    style = schema.field("style_deltas").type
    assert pa.types.is_list(style) and [f.name for f in style.value_type] == ["key", "value"]
    assert schema.metadata is None    # no pandas metadata, nothing time-dependent


def test_exporting_twice_gives_identical_bytes(pilot_db, pilot_export, tmp_path, run_psw):
    again = tmp_path / "again"
    assert run_psw(pilot_db, "export-hf", "--out", again)[0] == 0
    (again / ".git").mkdir()    # a clone of the dataset repo: its git folder survives a re-export
    (again / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (again / "data" / "stale.parquet").write_bytes(b"old")
    assert run_psw(pilot_db, "export-hf", "--out", again)[0] == 0    # over a previous export: replaced
    assert (again / ".git" / "HEAD").is_file() and not (again / "data" / "stale.parquet").exists()
    first = {p.relative_to(pilot_export): p.read_bytes() for p in pilot_export.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*")
              if p.is_file() and ".git" not in p.parts}
    assert first.keys() == second.keys()
    for path in first:
        assert first[path] == second[path], path
    assert [p.name for p in tmp_path.iterdir()] == ["again"]    # no temporary folders left behind


def test_measurement_filter(pilot_db, tmp_path, run_psw):
    rc, out, err = run_psw(pilot_db, "export-hf", "--out", tmp_path / "one", "--measurement", "v2_pilot_seed23")
    assert rc == 0, err
    assert (tmp_path / "one" / "data" / "v2_pilot_seed23_examples.parquet").is_file()
    rc, out, err = run_psw(pilot_db, "export-hf", "--out", tmp_path / "none", "--measurement", "nope")
    assert rc == 2 and "nope: not in this warehouse" in err and err.count("\n") == 1
    assert not (tmp_path / "none").exists()


def test_optional_marts_are_exported_when_they_have_rows(tmp_path):
    """ORDER BY ALL and MAP -> list<struct> on an activation-shaped table (the pilot has no activations);
    a mart with a measurement_id keeps the chosen measurements' rows only."""
    from hf.export import _optional_splits

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create table steering_summary (cell_id varchar, layer int, coeffs map(varchar, double))")
        con.execute("create table trait_geometry (vector_id_a varchar)")    # empty: no split
        con.execute("insert into steering_summary values ('cell_b', 2, map(['x'], [1.0])), "
                    "('cell_a', 5, map(['y', 'z'], [2.0, 3.0]))")
        con.execute("create table costs (measurement_id varchar, cost double)")
        con.execute("insert into costs values ('m1', 0.5), ('m2', 0.25)")
        con.execute("create table published_comparison (measurement_id varchar)")
        con.execute("insert into published_comparison values ('m2')")    # none of the chosen: no split
        splits = _optional_splits(con, ["m1"])
    assert [s.name for s in splits] == ["costs", "steering_summary"]
    assert splits[0].table.to_pylist() == [{"measurement_id": "m1", "cost": 0.5}]
    table = splits[1].table
    assert table.column("cell_id").to_pylist() == ["cell_a", "cell_b"]
    assert table.column("coeffs").to_pylist()[0] == [{"key": "y", "value": 2.0}, {"key": "z", "value": 3.0}]
    assert splits[1].map_columns == ["coeffs"]
