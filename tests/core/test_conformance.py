"""The build reproduces the published pilot's own per-cell and per-template aggregates."""

from __future__ import annotations

import json

import duckdb
import pytest

from tests.conftest import REFERENCE

CELL_STATS = [json.loads(line) for line in (REFERENCE / "v2_pilot_seed23_template_pair_stats.jsonl").open()]
TEMPLATE_STATS = [json.loads(line) for line in (REFERENCE / "v2_pilot_seed23_template_stats.jsonl").open()]
MEANS = ["strict_pass_rate", "mean_axis_delta", "mean_positive_delta", "mean_negative_delta",
         "mean_off_axis_problem", "usable_rate", "mean_max_style_abs_delta", "mean_abs_word_delta_frac",
         "persona_echo_rate", "refusal_or_ai_break_rate"]
STYLE = [k for k in CELL_STATS[0] if k.startswith("mean_style_delta_")]
FOUR_DP = 0.5e-4 + 1e-9  # the published values are rounded to 4 dp (a sum's last bit may tip a 5)


def guide_score(s: dict) -> float:
    clamp = lambda x: min(1.0, max(0.0, x))  # noqa: E731
    return round(100 * s["strict_pass_rate"] * clamp(s["mean_axis_delta"] / 8)
                 * clamp((7 - s["mean_off_axis_problem"]) / 6) * clamp((6 - s["mean_max_style_abs_delta"]) / 6)
                 * (1 - s["persona_echo_rate"]) * (1 - s["refusal_or_ai_break_rate"]), 1)


def rows(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        rel = con.sql(sql)
        return [dict(zip(rel.columns, r)) for r in rel.fetchall()]


@pytest.fixture(scope="module")
def cells(pilot_db):
    return {(r["template_text"], r["persona_pair_id"]): r for r in rows(pilot_db, "select * from template_pair_scores")}


def test_every_published_cell_is_reproduced(cells):
    assert len(cells) == len(CELL_STATS) == 16
    for expected in CELL_STATS:
        got = cells[(expected["template"], expected["persona_pair"])]
        where = f"{expected['template']!r} x {expected['persona_pair']}"
        assert got["n"] == expected["n"], where
        assert got["n_strict_pass"] == expected["n_strict_pass"], where
        for col in MEANS + STYLE:
            assert got[col] == pytest.approx(expected[col], abs=FOUR_DP), f"{where}: {col}"
        assert got["common_spurious_axes"] == expected["common_spurious_axes"], where
        assert got["strict_pass_persona_pairs"] == expected["strict_pass_persona_pairs"], where
        assert got["recommended"] == expected["recommended"], where


def test_score_is_the_guide_formula_on_the_published_components(cells):
    for expected in CELL_STATS:
        got = cells[(expected["template"], expected["persona_pair"])]
        assert got["score"] == pytest.approx(guide_score(expected), abs=1e-9)
    top = max(cells.values(), key=lambda r: r["score"])
    assert top["score"] == 36.6
    assert (top["template_text"], top["persona_pair_id"]) == (
        "You are a {persona} person thinking through the situation.", "wellbeing_authority")
    assert top["template_jinja"] == "You are a {{ persona }} person thinking through the situation."
    assert top["axis"] == "authority-deferential even when wellbeing suffers->wellbeing-focused even when authority-defying"
    assert top["generator_model"] == "qwen/qwen3.5-27b"
    assert top["judge_model"] == "google/gemini-3.1-flash-lite-preview"


def test_pairwise_means_are_absent_because_the_v2_export_lacks_them(cells):
    # the v2 examples export carries no pairwise ratings; the published means came from the
    # run artifact. We report null rather than invent them.
    assert all(c["mean_pairwise_positive_delta"] is None for c in cells.values())


def test_a_failed_pair_that_carries_numbers_is_counted_apart_and_moves_no_mean(psw, tmp_path):
    """A cell's means are over its successful pairs (README.md, "The score"): a failed pair counts in
    n_errors and n_planned, and none of the numbers it carries reaches a mean, a rate, a style or
    off-axis mean, or the template's pooled means. (The pilot's failed pairs carry no numbers, so the
    published cells alone cannot tell.)"""
    expected = next(s for s in CELL_STATS if s["n"] >= 3)
    lines = [json.loads(line) for line in (REFERENCE / "v2_pilot_seed23_examples.jsonl").open()]
    cell = [r for r in lines if (r["template"], r["persona_pair"]) == (expected["template"], expected["persona_pair"])]
    assert len(cell) == expected["n"] and not any(r["error"] for r in cell)
    failed = {**cell[0], "row": 999, "error": "judge call timed out", "strict_pass": False, "axis_delta": 0,
              "positive_delta": 9, "negative_delta": -9, "off_axis_problem": 7, "max_style_abs_delta": 6,
              "word_delta_frac": 0.9, "usable_for_training": False, "persona_echo": True, "refusal_or_ai_break": True,
              "likely_spurious_axis": "only on the failed pair",
              **{name: 9 for name in cell[0] if name.startswith("style_delta_")}}
    path = tmp_path / "failed_examples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*cell, failed]))
    assert psw("ingest", path)[0] == 0
    rc, out, err = psw("build")
    assert rc == 0, out + err
    [got] = rows(psw.db, "select * from template_pair_scores")
    assert (got["n_planned"], got["n_success"], got["n_errors"]) == (expected["n"] + 1, expected["n"], 1)
    for col in MEANS + STYLE:
        assert got[col] == pytest.approx(expected[col], abs=FOUR_DP), col
    assert got["common_spurious_axes"] == expected["common_spurious_axes"]
    [means] = rows(psw.db, "select style_delta_means from intermediate.int_cell_metrics")
    styles = {name.removeprefix("mean_style_delta_").removesuffix("_pos_minus_neg"): expected[name] for name in STYLE}
    assert list(means["style_delta_means"]) == sorted(styles)
    assert means["style_delta_means"] == pytest.approx(styles, abs=FOUR_DP)
    [template] = rows(psw.db, "select * from template_scores")
    for col in ["mean_axis_delta", "mean_off_axis_problem", "mean_max_style_abs_delta", "persona_echo_rate"]:
        assert template[col] == pytest.approx(expected[col], abs=FOUR_DP), col


def test_pilot_totals(pilot_db):
    [totals] = rows(pilot_db, "select sum(n_planned)::int as planned, sum(n_success)::int as success, "
                              "sum(n_errors)::int as errors from template_pair_scores")
    assert totals == {"planned": 64, "success": 59, "errors": 5}
    [ex] = rows(pilot_db, "select count(*) as n, count(*) filter (where is_error) as errors, "
                          "count(*) filter (where is_error and error like '%no JSON object%') as json_errors from examples")
    assert ex == {"n": 64, "errors": 5, "json_errors": 5}


def test_every_published_template_is_reproduced(pilot_db):
    got = {r["template_text"]: r for r in rows(pilot_db, "select * from template_scores")}
    assert len(got) == len(TEMPLATE_STATS)
    for expected in TEMPLATE_STATS:
        row = got[expected["template"]]
        assert row["n"] == expected["n"]
        for col in ["strict_pass_rate", "mean_axis_delta", "mean_positive_delta", "mean_negative_delta",
                    "mean_off_axis_problem", "mean_max_style_abs_delta", "mean_abs_word_delta_frac"]:
            assert row[col] == pytest.approx(expected[col], abs=FOUR_DP), col
        assert row["strict_pass_persona_pairs"] == expected["strict_pass_persona_pairs"]


def test_persona_pair_review_grades_every_candidate(pilot_db):
    got = {r["persona_pair_id"]: r for r in rows(pilot_db, "select * from persona_pair_review")}
    assert len(got) == 16  # all candidates, measured or not
    assert got["wellbeing_authority"]["proof_grade"] == "pilot_recommended"
    assert got["wellbeing_authority"]["best_score"] == 36.6
    grades = {r["proof_grade"] for r in got.values()}
    assert grades == {"pilot_recommended", "pilot_measured_not_promoted", "candidate_unmeasured"}


def test_length_deltas_per_pair_and_per_cell(pilot_db):
    pairs = rows(pilot_db, "select * from length_deltas where grain = 'pair'")
    assert len(pairs) == 59
    for r in pairs:
        assert r["word_delta"] == r["pos_words"] - r["neg_words"]
        assert r["char_delta"] == r["pos_chars"] - r["neg_chars"]
        assert r["abs_word_delta"] == abs(r["word_delta"])
    cells = rows(pilot_db, "select * from length_deltas where grain = 'cell'")
    assert len(cells) == 16 and sum(c["n"] for c in cells) == 59


def test_exported_pairs_use_the_same_pair_key_as_artifacts_and_collect(pilot_db):
    from warehouse.keys import pair_id

    # the pilot export names each record's run (`artifact`) and row: both are part of the key
    for row in rows(pilot_db, "select record ->> 'template' as t, record ->> 'persona_pair' as p, "
                              "record ->> 'prompt' as s, record ->> 'artifact' as run, (record ->> 'row')::int as r, "
                              "pair_id from raw.exported_pairs"):
        assert row["pair_id"] == pair_id("v2_pilot_seed23", row["t"], row["p"], row["s"], 0,
                                         source_run=row["run"], row_idx=row["r"])
    assert rows(pilot_db, "select count(distinct pair_id) as n from examples") == [{"n": 64}]
