"""Typed once (issue 21 part 1): a record's known fields are typed at ingest, from the same parse the
checks read (`fields` of raw.exported_pairs, raw.persona_pairs and raw.scenarios: ingest/typed.py);
dbt's staging selects them and never parses the record's JSON; rows written without them
(import-hf, a trait file, an older release) get them from the same rule."""

from __future__ import annotations

import json
import re

import duckdb

from ingest.typed import ensure_current, struct_type
from tests.conftest import REFERENCE, ROOT

V2 = [json.loads(line) for line in (REFERENCE / "v2_pilot_seed23_examples.jsonl").open()][:6]
V3 = {
    "artifact": "out/v3.json", "row": 7, "sample": 1, "scenario_id": 42, "template": "Be {persona}.",
    "persona_pair": "pp", "prompt": "What now?", "pos_persona": "kind", "neg_persona": "cruel", "error": "",
    "pos_response": "Yes.", "neg_response": "No.", "axis_delta": 2.5, "off_axis_problem": 2,
    "max_style_abs_delta": 1, "usable_for_training": True, "persona_echo": False, "refusal_or_ai_break": False,
    "strict_pass": True, "axis_delta_judge_mean": 2.5, "judge_persona_echo": False,
    "pos_refusal_phrase_hits": ["as an ai"], "style_delta_warmth_pos_minus_neg": -1.5, "off_axis_warmth": 3,
    "delta_pos_vs_base": 0.5, "delta_base_vs_neg": 0.75, "min_side_delta": 0.5,
    "base_generation_prompt": "What now?", "base_response": "Maybe.", "unknown_field": {"kept": True},
    "axis_judge_models": ["j1", "j2"],
    "axis_judgments": [{"judge_model": "j1", "axis_delta": 2, "positive_forward_delta": 1, "extra": "x"},
                       {"judge_model": "j2", "axis_delta": 3, "pairwise_positive_delta": 0.5}],
}
FAILED = {**V2[0], "error": "timeout", "axis_delta": "n/a", "persona_echo": "maybe", "row": 99}


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _fields(db, table: str = "raw.exported_pairs") -> list[dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [json.loads(r[0]) for r in con.execute(
            f"select to_json(fields) from {table} order by load_id, line_no").fetchall()]


def test_ingest_types_every_known_field_from_the_record(psw, tmp_path):
    path = _write(tmp_path / "mixed_examples.jsonl", [*V2, V3, FAILED])
    assert psw("ingest", path, "--measurement", "m")[0] == 0
    typed = _fields(psw.db)
    assert len(typed) == 8
    # v2: every field the record carries comes back with its value and the declared type
    for record, fields in zip(V2, typed):
        for name, value in record.items():
            if name in fields:
                assert fields[name] == (str(value) if isinstance(value, int) and name == "scenario_id" else value), name
    v3 = typed[6]
    assert (v3["row"], v3["sample"], v3["scenario_id"], v3["axis_delta"]) == (7, 1, "42", 2.5)
    assert v3["pos_refusal_phrase_hits"] == ["as an ai"] and v3["style_delta_warmth_pos_minus_neg"] == -1.5
    assert v3["base_generation_prompt"] == "What now?" and v3["axis_judge_models"] == ["j1", "j2"]
    assert [j["judge_model"] for j in v3["judge_axis"]] == ["j1", "j2"]
    assert v3["judge_axis"][0]["positive_forward_delta"] == 1 and v3["judge_axis"][1]["pairwise_positive_delta"] == 0.5
    assert v3["axis_judgments"][0]["extra"] == "x"  # the judges' objects whole
    assert "unknown_field" not in v3  # not a known field: it stays in `record`, kept and exported
    with duckdb.connect(str(psw.db), read_only=True) as con:
        assert json.loads(con.execute("select record from raw.exported_pairs where line_no = 7").fetchone()[0]) == V3
    # a failed pair's metrics are not checked: a wrongly typed one is NULL, never a guess
    failed = typed[7]
    assert failed["error"] == "timeout" and failed["row"] == 99
    assert failed["axis_delta"] is None and failed["persona_echo"] is None


def test_candidates_are_typed_with_the_fields_their_staging_reads(psw, tmp_path):
    pairs = _write(tmp_path / "pairs.jsonl", [
        {"id": "pp", "pos_descriptor": "kind", "neg": "cruel", "difficulty": 3, "trait": "kindness",
         "eval_prompt": "Is it kind?", "source_id": "s1"}])
    scenarios = _write(tmp_path / "scenarios.jsonl", [
        {"id": 7, "question": "What now?", "self_contained": True, "axes": ["care", "authority"], "pov": "first",
         "config": "v2", "foundation": "care", "frame": "dilemma", "source": "synthetic", "more": 1}])
    assert psw("ingest", pairs, "--kind", "pairs")[0] == 0 and psw("ingest", scenarios)[0] == 0
    [pair] = _fields(psw.db, "raw.persona_pairs")
    assert (pair["pos_descriptor"], pair["neg"], pair["difficulty"], pair["trait"], pair["eval_prompt"]) == \
        ("kind", "cruel", "3", "kindness", "Is it kind?")
    [scenario] = _fields(psw.db, "raw.scenarios")
    assert (scenario["id"], scenario["question"], scenario["self_contained"], scenario["axes"], scenario["pov"]) == \
        ("7", "What now?", True, ["care", "authority"], "first")
    assert "more" not in scenario


def test_published_stats_and_selections_are_typed(psw, tmp_path):
    """A stats file (a model-matrix row names its generator; upstream's HF rows their runtime template
    as raw_template), a selection's scenarios and its summary: typed like every other kind."""
    stats = _write(tmp_path / "run_template_pair_stats.jsonl", [
        {"template": "T {persona}", "persona_pair": "pp", "n": 4, "mean_axis_delta": 2.5},
        {"template": "{{ persona }} T", "raw_template": "{persona} T", "persona_pair": "pp", "n": 3,
         "generator_model": "gen/x"}])
    assert psw("ingest", stats, "--kind", "stats", "--measurement", "run")[0] == 0
    first, second = _fields(psw.db, "raw.published_stats")
    assert (first["template"], first["persona_pair"], first["n"], first["raw_template"]) == ("T {persona}", "pp", 4, None)
    assert (second["raw_template"], second["generator_model"]) == ("{persona} T", "gen/x")
    pool = _write(tmp_path / "pool.jsonl", [
        {"id": "s1", "prompt": "What now?", "source": "synthetic", "self_contained": True, "selection_score": 1.5,
         "axis_delta": 4.0, "off_axis_problem": 2.0, "strict_pass": True}])
    (tmp_path / "pool_summary.json").write_text(json.dumps(
        {"template": "T {persona}", "axis": "pp", "generator_model": "gen/x", "n_selected": 1,
         "source_counts": {"synthetic": 1}, "//written_by": "psw 1"}))
    assert psw("ingest", pool, "--kind", "selection")[0] == 0
    assert psw("ingest", tmp_path / "pool_summary.json", "--kind", "selection")[0] == 0
    scenario, summary = sorted(_fields(psw.db, "raw.selections"), key=lambda f: f["prompt"] is None)
    assert (scenario["prompt"], scenario["self_contained"], scenario["selection_score"], scenario["strict_pass"]) == \
        ("What now?", True, 1.5, True)
    assert (summary["template"], summary["axis"], summary["n_selected"], summary["//written_by"]) == \
        ("T {persona}", "pp", 1, "psw 1")
    assert summary["source_counts"] == {"synthetic": 1}


def test_staging_never_parses_the_records_json():
    """The typed kinds' staging (and the exported pairs' intermediate model) read typed columns: no
    JSON function on `record` (the anchored models read more of the judges' objects, not the record)."""
    for path in ("dbt/models/staging/raw/stg_raw__exported_pairs.sql", "dbt/models/intermediate/int_exported_pairs.sql",
                 "dbt/models/staging/raw/stg_raw__persona_pairs.sql", "dbt/models/staging/raw/stg_raw__scenarios.sql",
                 "dbt/models/staging/raw/stg_raw__published_stats.sql",
                 "dbt/models/staging/raw/stg_raw__selections.sql"):
        sql = re.sub(r"--[^\n]*", "", (ROOT / path).read_text())
        assert not re.search(r"json_(transform|extract|exists|keys|type)|->>|->", sql), path
        assert not re.search(r"\brecord\s*(::|->)", sql), path


def test_rows_written_without_types_get_them_by_the_same_rule(psw, tmp_path):
    """import-hf writes raw rows without `fields`, and a warehouse made before the column has none:
    the fill step types them exactly as ingest did."""
    path = _write(tmp_path / "mixed_examples.jsonl", [*V2, V3, FAILED])
    assert psw("ingest", path, "--measurement", "m")[0] == 0
    as_ingested = _fields(psw.db)
    with duckdb.connect(str(psw.db)) as con:
        con.execute("alter table raw.exported_pairs drop column fields")  # as a release before it left them
        ensure_current(con)
    assert _fields(psw.db) == as_ingested
    with duckdb.connect(str(psw.db)) as con:
        con.execute("update raw.exported_pairs set fields = null where line_no > 3")  # as import-hf leaves them
        ensure_current(con)
    assert _fields(psw.db) == as_ingested
    # candidates too (a trait file's rows, imported ones)
    pairs = _write(tmp_path / "pairs.jsonl", [{"id": "pp", "pos": "kind", "neg": "cruel", "trait": "t"}])
    assert psw("ingest", pairs)[0] == 0
    typed_pairs = _fields(psw.db, "raw.persona_pairs")
    with duckdb.connect(str(psw.db)) as con:
        con.execute("update raw.persona_pairs set fields = null")
        ensure_current(con)
    assert _fields(psw.db, "raw.persona_pairs") == typed_pairs


def test_a_column_of_another_release_is_typed_again(psw, tmp_path):
    """The known fields changed (a judge panel edited, a field added): the column is derived again."""
    path = _write(tmp_path / "mixed_examples.jsonl", [V3])
    assert psw("ingest", path, "--measurement", "m")[0] == 0
    as_ingested = _fields(psw.db)
    with duckdb.connect(str(psw.db)) as con:
        con.execute("alter table raw.exported_pairs drop column fields")
        con.execute("alter table raw.exported_pairs add column fields struct(template varchar)")
        con.execute("update raw.exported_pairs set fields = {'template': 'stale'}")
        ensure_current(con)
        assert con.execute("select data_type from information_schema.columns where table_schema = 'raw' and "
                           "table_name = 'exported_pairs' and column_name = 'fields'").fetchone()[0] \
            .replace('"', "").replace(" ", "").upper() == struct_type().replace('"', "").replace(" ", "").upper()
    assert _fields(psw.db) == as_ingested
