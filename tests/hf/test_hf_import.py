"""`psw import-hf`: an export round-trips through raw and dbt; the upstream layout loads as ingest would."""

from __future__ import annotations

import json
import math

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from hf.importer import read_folder, read_with_datasets
from tests.conftest import REFERENCE


def rows(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return names, cur.fetchall()


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        # means are summed in load order; a different row order may move the last bit
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
    return a == b


def test_round_trip_rebuilds_identical_template_pair_scores(pilot_db, pilot_export, tmp_path, run_psw):
    fresh = tmp_path / "fresh" / "warehouse.duckdb"
    rc, out, err = run_psw(fresh, "import-hf", pilot_export)
    assert rc == 0, err
    assert "v2_pilot_seed23" in out and "raw.exported_pairs 64" in out
    rc, out, err = run_psw(fresh, "import-hf", pilot_export)    # the same library again adds nothing
    assert rc == 0 and "already imported" in out
    assert run_psw(fresh, "build", "--select", "+template_pair_scores", "+examples",
                   "--indirect-selection", "cautious")[0] == 0
    for query, n in (("select * from template_pair_scores order by id", 16),
                     ("select * from examples order by pair_id", 64)):
        names, before = rows(pilot_db, query)
        names_after, after = rows(fresh, query)
        assert names_after == names and len(after) == len(before) == n
        for old, new in zip(before, after):
            for name, a, b in zip(names, old, new):
                assert same(a, b), (old[0], name, a, b)
    meta = "select measurement_id, generator_model, judge_models, temperature, seed from staging.stg_raw__measurements"
    assert rows(fresh, meta)[1] == rows(pilot_db, meta)[1] == [
        ("v2_pilot_seed23", "qwen/qwen3.5-27b", ["google/gemini-3.1-flash-lite-preview"], 0.0, 23)]
    candidates = "select count(*) from raw.persona_pairs union all select count(*) from raw.templates " \
                 "union all select count(*) from raw.scenarios"
    assert rows(fresh, candidates)[1] == [(16,), (12,), (12,)]


def upstream_folder(tmp_path):
    """The published upstream layout: template_pair_scores and v2_pilot_seed23_examples splits."""
    folder = tmp_path / "upstream"
    (folder / "data").mkdir(parents=True)
    examples = [json.loads(line) for line in (REFERENCE / "v2_pilot_seed23_examples.jsonl").open()]
    cells = [json.loads(line) for line in (REFERENCE / "v2_pilot_seed23_template_pair_stats.jsonl").open()]
    for cell in cells:
        cell.update(generator_model="qwen/qwen3.5-27b", judge_model="google/gemini-3.1-flash-lite-preview",
                    temperature=0.0, seed=23)
    pq.write_table(pa.Table.from_pylist(cells), folder / "data" / "template_pair_scores-00000-of-00001.parquet")
    pq.write_table(pa.Table.from_pylist(examples), folder / "data" / "v2_pilot_seed23_examples-00000-of-00001.parquet")
    return folder


def test_upstream_layout_loads_the_same_records_as_ingest(pilot_db, tmp_path, run_psw):
    fresh = tmp_path / "fresh" / "warehouse.duckdb"
    rc, out, err = run_psw(fresh, "import-hf", upstream_folder(tmp_path))
    assert rc == 0, err
    query = "select measurement_id, record from raw.exported_pairs"
    def records(db):    # a missing key and a null read the same in dbt (`record ->> key`)
        return sorted((m, json.dumps({k: v for k, v in json.loads(r).items() if v is not None}, sort_keys=True))
                      for m, r in rows(db, query)[1])

    imported, ingested = records(fresh), records(pilot_db)
    assert len(imported) == 64
    assert imported == ingested    # so `psw build` derives the same marts as from the JSONL
    meta = "select measurement_id, generator_model, judge_models, temperature, seed from raw.measurements"
    assert rows(fresh, meta)[1] == [
        ("v2_pilot_seed23", "qwen/qwen3.5-27b", ["google/gemini-3.1-flash-lite-preview"], 0.0, 23)]


def test_datasets_route_reads_the_same_splits_as_the_folder_reader(pilot_export):
    """A repo id goes through `datasets.load_dataset`; a local export exercises that path offline."""
    direct = read_folder(pilot_export)
    via_datasets = read_with_datasets(str(pilot_export))
    assert sorted(direct) == sorted(via_datasets)
    for name, split in direct.items():
        assert via_datasets[name].table.num_rows == split.table.num_rows, name


def test_judged_pairs_restore_the_raw_pairs_and_judgments_ingest_wrote(tmp_path, run_psw):
    """Pairs measured from raw judge outputs (artifact / collect) go back as raw.pairs + raw.judgments
    with the same keys. Rows shaped like the examples mart's are made here from an ingested artifact,
    so no dbt build is needed."""
    from tests.conftest import ROOT

    original = tmp_path / "original.duckdb"
    assert run_psw(original, "ingest", ROOT / "data" / "demo" / "demo_run_artifact.json")[0] == 0
    with duckdb.connect(str(original), read_only=True) as con:
        examples = con.sql("""
            select p.measurement_id, p.template_text, p.persona_pair_id, p.scenario_id, p.scenario_text,
                   p.sample_idx, p.source_run, p.row_idx, p.pos_persona, p.neg_persona, p.pos_prompt, p.neg_prompt, p.pos_response,
                   p.neg_response, p.error is not null as is_error, p.error, 'judged' as metrics_origin,
                   null::double as axis_delta, null::double as off_axis_problem, null::double as max_style_abs_delta,
                   null::boolean as is_usable_for_training, null::boolean as has_persona_echo,
                   null::boolean as has_refusal_or_ai_break, null::struct(key varchar, value double)[] as style_deltas,
                   (select list({'judge_model': j.judge_model, 'criterion': j.criterion, 'prompt_hash': j.prompt_hash,
                                 'pos_label': j.pos_label, 'output': j.output::varchar, 'raw_text': j.raw_text,
                                 'error': j.error} order by j.judge_model, j.criterion)
                    from raw.judgments as j where j.pair_id = p.pair_id) as ratings,
            from raw.pairs as p order by p.pair_id""").to_arrow_table()
        measurements = con.sql("select measurement_id, generator_model, judge_models, temperature, seed "
                               "from raw.measurements").to_arrow_table()
    folder = tmp_path / "library" / "data"
    folder.mkdir(parents=True)
    pq.write_table(examples, folder / "demo_run_artifact_examples.parquet")
    pq.write_table(measurements, folder / "measurements.parquet")
    fresh = tmp_path / "fresh" / "warehouse.duckdb"
    rc, out, err = run_psw(fresh, "import-hf", folder.parent)
    assert rc == 0, err
    pair_cols = ("pair_id, measurement_id, template_text, persona_pair_id, pos_persona, neg_persona, scenario_id, "
                 "scenario_text, sample_idx, pos_label, pos_prompt, neg_prompt, pos_response, neg_response, "
                 "generator_model, error")
    judgment_cols = "judgment_id, pair_id, measurement_id, judge_model, criterion, prompt_hash, pos_label, " \
                    "output, raw_text, error"
    for table, cols in (("pairs", pair_cols), ("judgments", judgment_cols)):
        query = f"select {cols} from raw.{table} order by all"
        assert rows(fresh, query)[1] == rows(original, query)[1], table
    assert rows(fresh, "select count(*) from raw.pairs")[1][0][0] == examples.num_rows
