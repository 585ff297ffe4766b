"""An anchored measurement's template level (issue 27): int_anchored_templates pools a template's pairs
over its persona pairs as upstream's anchored export does (export_persona_template_stats.py), and
template_scores carries those rows with protocol 'anchored' and the guide's columns null; export-stats
writes them with upstream's anchored template keys, key order and sort. The hand-written artifact of
tests/anchored_fixture.py plus four pairs of a second persona pair under the same template, so a mean
pooled over pairs (upstream's) differs from a mean of the two cells' means."""

from __future__ import annotations

import json

import duckdb
import pytest

import anchored_fixture as fx
from psw.cli import main
from test_v3_artifact import SPECS as V3_SPECS, result as v3_result, write_artifact as write_v3

AXIS2 = {**fx.AXIS, "id": "candid_evasive", "pos_descriptor": "candid", "neg_descriptor": "evasive"}
# the first spec's pair again, under the second persona pair, with a clean confound judgment (overall 1.0)
EXTRA = [{**fx.SPECS[0], "prompt": f"Extra question {i}?", "confound": fx.confound({"length": 1.5}, 1.0)}
         for i in range(4)]
BUG, DEMO = fx.ANCHORED_EXPECTED[(fx.PERSONA, fx.BUG)], fx.ANCHORED_EXPECTED[(fx.PERSONA, fx.DEMO)]
# the persona template by hand: bug and demo (persona pair 1; off-axis 3.0, 5.0), four bug copies
# (persona pair 2; off-axis 1.0); the failed pair counts as an error
POOLED = [BUG, DEMO] + [BUG] * 4
OFF_AXIS = [3.0, 5.0] + [1.0] * 4


def mean(key: str) -> float:
    return sum(p[key] for p in POOLED) / len(POOLED)


PERSONA_TEMPLATE = dict(
    n=6, n_success=6, n_errors=1, n_planned=7, n_strict_pass=5, strict_pass_rate=5 / 6, n_persona_pairs=2,
    mean_axis_delta=mean("axis_delta"), mean_delta_pos_vs_base=mean("delta_pos_vs_base"),
    mean_delta_base_vs_neg=mean("delta_base_vs_neg"), mean_min_side_delta=mean("min_side_delta"),
    mean_overall_score=mean("overall_score"), mean_gate_off_axis_problem=mean("gate"),
    mean_max_style_abs_delta=mean("max_style"), mean_off_axis_problem=sum(OFF_AXIS) / 6,
    n_judge_did_not_commit=1, judge_did_not_commit_rate=1 / 6)
# upstream's export rule on the pooled means: n 6 >= 4, pass 0.83 >= 0.5, axis 3.47 >= 3, off-axis 2.0 <= 2,
# style 0.92 <= 2, no echo, no refusal
PERSONA_RECOMMENDED = True
# upstream's anchored stats keys (export_persona_template_stats.py, _aggregate), after the group keys
UPSTREAM_KEYS = ["n", "strict_pass_rate", "n_strict_pass", "mean_axis_delta", "mean_axis_delta_judge_mean",
                 "mean_axis_delta_judge_std", "mean_axis_judge_abs_disagreement", "mean_delta_pos_vs_base",
                 "mean_delta_base_vs_neg", "mean_min_side_delta", "mean_off_axis_problem",
                 "mean_max_off_axis_category_likert", "usable_rate", "mean_max_style_abs_delta",
                 "mean_abs_word_delta_frac", "mean_response_token_jaccard", "mean_pos_repeated_token_frac",
                 "mean_neg_repeated_token_frac", "persona_echo_rate", "judge_persona_echo_rate",
                 "refusal_or_ai_break_rate", "judge_refusal_or_ai_break_rate", "strict_pass_persona_pairs",
                 "common_spurious_axes"]
GUIDE_ONLY = ["mean_score", "best_score", "best_cell_id", "best_persona_pair_id", "mean_positive_delta",
              "mean_negative_delta", "mean_pairwise_positive_delta", "mean_pairwise_negative_delta"]


def artifact() -> dict:
    doc = fx.artifact()
    for i, spec in enumerate(EXTRA):
        doc["results"].append({**fx.result(spec, 10 + i), "axis": AXIS2})
    return doc


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("anchored_templates")
    db = folder / "warehouse.duckdb"
    fx.write(folder / "run.json", artifact())
    write_v3(folder / "guide_run.json", [v3_result(s) for s in V3_SPECS])   # a guide measurement beside it
    for name in ("run.json", "guide_run.json"):
        assert main(["--db", str(db), "ingest", str(folder / name)]) == 0, name
    assert main(["--db", str(db), "build"]) == 0
    return db


def rows(db, sql: str, params=None) -> list[dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        rel = con.execute(sql, params or [])
        names = [d[0] for d in rel.description]
        return [dict(zip(names, r)) for r in rel.fetchall()]


def test_the_template_pools_its_pairs_over_persona_pairs_as_by_hand(built):
    got = {r["template_text"]: r for r in rows(built, "select * from template_scores where measurement_id = 'run'")}
    assert set(got) == {fx.PERSONA, fx.CONTROL}
    persona = got[fx.PERSONA]
    assert persona["protocol"] == "anchored"
    for column, want in PERSONA_TEMPLATE.items():
        assert persona[column] == pytest.approx(want, abs=1e-9), column
    assert persona["recommended"] is PERSONA_RECOMMENDED
    assert persona["strict_pass_persona_pairs"] == sorted([fx.AXIS["id"], AXIS2["id"]])
    # pooled over pairs, not the mean of the two cells' means (0.375 and 0.75)
    cells = rows(built, "select persona_pair_id, mean_min_side_delta, recommended from template_pair_scores "
                        "where measurement_id = 'run' and template_text = ? order by 1", [fx.PERSONA])
    assert [c["mean_min_side_delta"] for c in cells] == pytest.approx([0.75, 0.375])
    assert persona["mean_min_side_delta"] != pytest.approx((0.75 + 0.375) / 2)
    assert persona["n_recommended"] == sum(c["recommended"] for c in cells)
    for column in GUIDE_ONLY:
        assert persona[column] is None, column
    control = got[fx.CONTROL]
    assert (control["n"], control["n_errors"], control["recommended"]) == (1, 0, False)
    assert control["mean_overall_score"] == pytest.approx(-1.0)
    # the intermediate model holds the same numbers (template_scores only carries them)
    inner = rows(built, "select * from intermediate.int_anchored_templates where template_text = ?", [fx.PERSONA])[0]
    assert inner["mean_min_side_delta"] == persona["mean_min_side_delta"] and inner["is_recommended"] is True


def test_guide_templates_keep_the_guide_columns_and_no_anchored_ones(built):
    guide = rows(built, "select * from template_scores where measurement_id = 'guide_run'")
    assert guide and {r["protocol"] for r in guide} == {"guide"}
    assert all(r["mean_score"] is not None and r["mean_overall_score"] is None and r["mean_min_side_delta"] is None
               for r in guide)


def test_export_stats_writes_upstreams_anchored_template_stats(built, tmp_path):
    out = tmp_path / "stats"
    assert main(["--db", str(built), "export-stats", "--out", str(out), "--measurement", "run"]) == 0
    templates = [json.loads(line) for line in (out / "run_template_stats.jsonl").open()]
    # upstream's sort: recommended, strict_pass_rate, mean_min_side_delta, mean_axis_delta (descending)
    assert [t["template"] for t in templates] == [fx.PERSONA, fx.CONTROL]
    for row in templates:
        keys = list(row)
        assert keys[:len(UPSTREAM_KEYS) + 1] == ["template"] + UPSTREAM_KEYS
        assert keys[-1] == "recommended"
        middle = keys[len(UPSTREAM_KEYS) + 1:-1]
        style = [k for k in middle if k.startswith("mean_style_delta_")]
        assert middle == style + [k for k in middle if k.startswith("mean_off_axis_")]
        assert style == sorted(style) and middle[len(style):] == sorted(middle[len(style):])
    persona = templates[0]
    for column in ("n", "n_strict_pass", "strict_pass_rate", "mean_axis_delta", "mean_delta_pos_vs_base",
                   "mean_delta_base_vs_neg", "mean_min_side_delta", "mean_off_axis_problem"):
        assert persona[column] == round(PERSONA_TEMPLATE[column], 4), column
    assert persona["recommended"] is PERSONA_RECOMMENDED
    assert persona["strict_pass_persona_pairs"] == sorted([fx.AXIS["id"], AXIS2["id"]])
    # the template-pair file: the same anchored keys, one row per cell
    cells = [json.loads(line) for line in (out / "run_template_pair_stats.jsonl").open()]
    assert len(cells) == 3
    assert all(list(c)[:len(UPSTREAM_KEYS) + 2] == ["template", "persona_pair"] + UPSTREAM_KEYS for c in cells)
    csv_header = (out / "run_template_stats.csv").read_text().splitlines()[0].split(",")
    assert "mean_min_side_delta" in csv_header and "mean_positive_delta" not in csv_header


def test_a_warehouse_from_before_the_protocol_column_fills_it_on_a_plain_build(built, tmp_path):
    """template_scores is incremental by measurement: a table built by a release without `protocol` (and
    so without anchored rows) is recomputed whole by the next build (macros/incremental.sql), not left
    with the column null and the anchored templates missing."""
    db = tmp_path / "old" / "warehouse.duckdb"
    db.parent.mkdir()
    db.write_bytes(built.read_bytes())
    with duckdb.connect(str(db)) as con:
        con.execute("delete from main.template_scores where protocol = 'anchored'")
        con.execute("alter table main.template_scores drop column protocol")
        con.execute("alter table main.template_scores drop column mean_min_side_delta")
    assert main(["--db", str(db), "build", "--force"]) == 0
    got = rows(db, "select measurement_id, protocol, count(*) as n from template_scores group by all order by 1")
    assert got == [{"measurement_id": "guide_run", "protocol": "guide", "n": got[0]["n"]},
                   {"measurement_id": "run", "protocol": "anchored", "n": 2}]
    assert rows(db, "select mean_min_side_delta from template_scores where template_text = ? and measurement_id = 'run'",
                [fx.PERSONA])[0]["mean_min_side_delta"] == pytest.approx(PERSONA_TEMPLATE["mean_min_side_delta"])


def test_every_incremental_model_has_the_columns_its_yml_documents(built):
    """A documented column that a model never produces would make every build recompute the model
    whole (macros/incremental.sql reads a missing documented column as a table from an older release)."""
    import yaml
    from warehouse.db import DBT_DIR

    models = [p.stem for p in (DBT_DIR / "models").rglob("*.sql") if "incremental_by_measurement(" in p.read_text()]
    documented = {m["name"]: [c["name"] for c in m.get("columns") or []]
                  for y in (DBT_DIR / "models").rglob("*.yml") for m in (yaml.safe_load(y.read_text()) or {}).get("models") or []}
    assert "template_scores" in models and "int_anchored_templates" in models
    for model in models:
        built_columns = {r["column_name"] for r in rows(
            built, "select column_name from information_schema.columns where table_name = ?", [model])}
        assert built_columns, model
        missing = [c for c in documented.get(model, []) if c not in built_columns]
        assert not missing, f"{model} documents columns it does not have: {missing}"


def test_a_published_anchored_template_stats_file_matches_the_anchored_rows(built, tmp_path):
    """Upstream's anchored template_stats file (here the one export-stats wrote) compared column by column
    in published_comparison (level 'template'): it meets template_scores' anchored row of each template,
    and every number matches."""
    db = tmp_path / "published" / "warehouse.duckdb"
    db.parent.mkdir()
    db.write_bytes(built.read_bytes())
    out = tmp_path / "stats"
    assert main(["--db", str(db), "export-stats", "--out", str(out), "--measurement", "run"]) == 0
    assert main(["--db", str(db), "ingest", str(out / "run_template_stats.jsonl")]) == 0
    assert main(["--db", str(db), "build"]) == 0
    compared = rows(db, "select template_text, column_name, status from published_comparison "
                        "where level = 'template' and measurement_id = 'run'")
    assert {c["template_text"] for c in compared} == {fx.PERSONA, fx.CONTROL}
    assert {c["column_name"] for c in compared} >= {"mean_min_side_delta", "mean_delta_pos_vs_base", "recommended"}
    assert [c for c in compared if c["status"] != "match"] == []


def test_an_anchored_cell_states_both_of_upstreams_recommended_rules(tmp_path):
    """Upstream has two rules for an anchored cell: its run summary's (validate_persona_axes.py: n >= 3,
    pass rate >= 0.8, ...), our `recommended`, and its stats export's (n >= 4, pass rate >= 0.5, ...),
    which its `_template_pair_stats` files state. A cell of four bug pairs, one failing strict pass on
    style alone (3.0 > 2), passes only the export's: export-stats writes that one."""
    clean = fx.confound({"length": 1.5}, 1.0)
    specs = [{**fx.SPECS[0], "prompt": f"Question {i}?", "confound": clean} for i in range(3)]
    specs.append({**fx.SPECS[0], "prompt": "Question 3?", "confound": clean,
                  "style": fx.style({"verbosity": 7.0}, {"verbosity": 4.0})})
    doc = fx.artifact()
    doc["results"] = [{**fx.result(spec, i), "axis": AXIS2} for i, spec in enumerate(specs)]
    db = tmp_path / "warehouse.duckdb"
    fx.write(tmp_path / "rules.json", doc)
    assert main(["--db", str(db), "ingest", str(tmp_path / "rules.json")]) == 0
    assert main(["--db", str(db), "build"]) == 0
    [cell] = rows(db, "select n, strict_pass_rate, mean_max_style_abs_delta, recommended, export_recommended "
                      "from main.template_pair_scores where measurement_id = 'rules'")
    assert (cell["n"], cell["strict_pass_rate"], cell["mean_max_style_abs_delta"]) == (4, 0.75, 1.5)
    assert cell["recommended"] is False and cell["export_recommended"] is True
    out = tmp_path / "stats"
    assert main(["--db", str(db), "export-stats", "--out", str(out), "--measurement", "rules"]) == 0
    [row] = [json.loads(line) for line in (out / "rules_template_pair_stats.jsonl").open()]
    assert row["recommended"] is True
