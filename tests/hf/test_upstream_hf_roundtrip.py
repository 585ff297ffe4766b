"""`psw export-hf --layout upstream` writes upstream's own HF folder; `psw import-hf` of it, then
`psw build`, gives the same cells (the reference pilot, v2, and a hand-written v3 export)."""

from __future__ import annotations

import math

import duckdb
import pyarrow.parquet as pq
import pytest

from psw.cli import main

# upstream's build_hf_dataset.py: the columns of template_pair_cells, in its order
CELL_COLUMNS = ["id", "template", "score", "on_axis", "off_axis", "positive_persona", "negative_persona", "contrast",
                "source", "source_type", "source_url", "template_source", "template_source_type",
                "template_source_url", "template_source_note", "persona_pair", "positive_behavior",
                "negative_behavior", "raw_template", "cell_key", "template_format", "measurement_id", "score_formula",
                "recommended", "n_success", "n_errors", "n_planned", "strict_pass_rate", "mean_axis_delta",
                "mean_axis_delta_judge_mean", "mean_axis_delta_judge_std", "mean_axis_judge_abs_disagreement",
                "mean_off_axis_problem", "mean_max_style_abs_delta", "mean_abs_word_delta_frac", "persona_echo_rate",
                "refusal_or_ai_break_rate", "usable_rate", "generator_model", "judge_model", "axis_judge_models",
                "style_judge_model", "generation_temperature", "seed", "judge_order", "judge_method"]
MAIN_COLUMNS = ["id", "template", "score", "best_score", "best_persona_pair", "source", "source_type", "source_url",
                "raw_template", "template_key", "measurement_id", "template_format", "recommended_cell_count",
                "measured_persona_pair_count", "mean_axis_delta", "mean_axis_delta_judge_std",
                "mean_axis_judge_abs_disagreement", "mean_off_axis_problem", "mean_max_style_abs_delta",
                "generator_model", "judge_model", "axis_judge_models", "style_judge_model", "generation_temperature",
                "seed", "judge_order", "judge_method"]
# what a cell is: everything the marts derive from the pairs (ids and run metadata aside)
# measurement_version and context_version are the warehouse's own bookkeeping (its loads' times, the
# settings excluded here): they differ between the two warehouses by design
CELL_SQL = """select * exclude (id, cell_id, template_id, judge_model, judge_models, generator_model, temperature,
                               seed, source_type, control_cell_id, score_ci_low, score_ci_high, n_bootstrap,
                               measurement_version, context_version)
              from template_pair_scores where measurement_id = ? order by template_text, persona_pair_id"""


@pytest.fixture(scope="module")
def round_trip(pilot_db, v3_built, tmp_path_factory):
    """Each library into its own empty warehouse: both name persona pair principled_expedient, and the
    later candidate of one id is the one staging keeps (with or without its behaviour texts)."""
    folder = tmp_path_factory.mktemp("roundtrip")
    pilot, v3 = folder / "pilot", folder / "v3"
    assert main(["--db", str(pilot_db), "export-hf", "--layout", "upstream", "--out", str(pilot)]) == 0
    assert main(["--db", str(v3_built[0]), "export-hf", "--layout", "upstream", "--out", str(v3),
                 "--measurement", "v3_run"]) == 0
    for library in (pilot, v3):
        db = library.with_suffix(".duckdb")
        assert main(["--db", str(db), "import-hf", str(library)]) == 0
        assert main(["--db", str(db), "build"]) == 0
    return {"v2_pilot_seed23": (pilot_db, pilot), "v3_run": (v3_built[0], v3)}


def cells(db, measurement):
    with duckdb.connect(str(db), read_only=True) as con:
        cur = con.execute(CELL_SQL, [measurement])
        return [dict(zip([d[0] for d in cur.description], row)) for row in cur.fetchall()]


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)   # a sum's last bit may follow row order
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("measurement", ["v2_pilot_seed23", "v3_run"])
def test_export_then_import_gives_the_same_cells(round_trip, measurement):
    source, library = round_trip[measurement]
    before, after = cells(source, measurement), cells(library.with_suffix(".duckdb"), measurement)
    assert len(before) == len(after) > 0
    for old, new in zip(before, after):
        assert [(k, old[k], new[k]) for k in old if not same(old[k], new[k])] == []


@pytest.mark.parametrize("measurement", ["v2_pilot_seed23", "v3_run"])
def test_the_published_upstream_numbers_match_the_rebuilt_cells(round_trip, measurement):
    with duckdb.connect(str(round_trip[measurement][1].with_suffix(".duckdb")), read_only=True) as con:
        levels = dict(con.execute("select level, count(*) filter (where status = 'match') from published_comparison "
                                  "where measurement_id = ? group by level", [measurement]).fetchall())
        flagged = con.execute("select level, column_name, published, ours from published_comparison "
                              "where is_flagged and measurement_id = ?", [measurement]).fetchall()
    assert flagged == []
    assert levels["template_pair_cell"] > 0 and levels["template_main"] > 0 and levels["persona_pair"] > 0


def test_the_folder_has_upstreams_splits_columns_and_card(round_trip):
    folder = round_trip["v2_pilot_seed23"][1]
    assert sorted(p.name for p in (folder / "parquet").iterdir()) == [
        "controls.parquet", "examples.parquet", "main.parquet", "persona_pairs.parquet", "template_pair_cells.parquet"]
    assert pq.read_schema(folder / "parquet" / "template_pair_cells.parquet").names == CELL_COLUMNS
    assert pq.read_schema(folder / "parquet" / "main.parquet").names == MAIN_COLUMNS
    card = (folder / "README.md").read_text()
    assert "- config_name: default\n  data_files:\n  - split: main\n    path: parquet/main.parquet\n" in card
    # the v3 export's control arm is its own split, in upstream's stats shape
    controls = pq.read_table(round_trip["v3_run"][1] / "parquet" / "controls.parquet").to_pylist()
    assert [r["template"] for r in controls] == [""] and controls[0]["n"] == 1


def test_one_measurement_per_folder_and_no_secret_leaves(v3_built, tmp_path, capsys):
    db, _ = v3_built
    capsys.readouterr()
    assert main(["--db", str(db), "export-hf", "--layout", "upstream", "--out", str(tmp_path / "a")]) == 2
    assert "writes one measurement per folder" in capsys.readouterr().err
    assert main(["--db", str(db), "export-hf", "--layout", "upstream", "--out", str(tmp_path / "b"),
                 "--measurement", "leaky"]) == 2
    err = capsys.readouterr().err
    assert "split examples, column pos_response, row 0: holds a API key" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
