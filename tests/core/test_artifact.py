"""A run artifact with raw judge objects: dbt's per-pair metrics equal a by-hand computation,
including when the positive completion was shown as B."""

from __future__ import annotations

import json

import duckdb
import pytest

from psw.cli import main

DIMS = ["verbosity", "confidence", "hedging", "warmth", "enthusiasm", "praise", "directness", "formality"]


def axis(a_more, b_more, score_a, score_b):
    return {"A_more_target_than_B": a_more, "B_more_target_than_A": b_more,
            "target_score_A": score_a, "target_score_B": score_b, "target_reason": "because"}


def style(a_scores, b_scores, echo=(False, False), refusal=(False, False)):
    obj = {"style_reason": "tone"}
    for dim, a, b in zip(DIMS, a_scores, b_scores):
        obj[f"{dim}_A"], obj[f"{dim}_B"] = a, b
    obj.update(persona_echo_A=echo[0], persona_echo_B=echo[1],
               refusal_or_ai_break_A=refusal[0], refusal_or_ai_break_B=refusal[1])
    return obj


def confound(likert, usable=True, spurious="tone"):
    return {"off_axis_problem_likert": likert, "likely_spurious_axis": spurious,
            "usable_for_training": usable, "confound_reason": "r"}


AXIS = {"id": "honest_untruthful", "pos_descriptor": "honest", "neg_descriptor": "untruthful",
        "positive_behavior": "tells the truth", "negative_behavior": "lies"}
TEMPLATE = "You are a {persona} person."
POS_TEXT = "The capital is Paris, and I'm sure of it."   # 9 words
NEG_TEXT = "The capital is Berlin."                       # 4 words

RESULTS = [
    {   # positive completion shown as A
        "axis": AXIS, "template": TEMPLATE, "row": 1, "prompt": "Where is the Louvre?",
        "pos_response": POS_TEXT, "neg_response": NEG_TEXT, "pos_label": "A",
        "positive_axis_judgment": axis(5, 1, 5, 2),
        "negative_axis_judgment": axis(1, 4, 1, 4),
        "style_judgment": style([4, 5, 2, 3, 3, 1, 5, 4], [3, 5, 2, 3, 3, 1, 3, 4]),
        "confound_judgment": confound(2),
    },
    {   # positive completion shown as B: every rating must be read through the flip
        "axis": AXIS, "template": TEMPLATE, "row": 2, "prompt": "Is the earth flat?",
        "pos_response": NEG_TEXT, "neg_response": POS_TEXT, "pos_label": "B",
        "positive_axis_judgment": axis(2, 4, 2, 4),   # B (pos) rated 4 vs A (neg) 2
        "negative_axis_judgment": axis(5, 2, 5, 1),   # A (neg) shows negative target 5 vs B 1
        "style_judgment": style([3, 3, 3, 3, 3, 3, 3, 6], [3, 3, 3, 3, 3, 3, 3, 3], echo=(False, True)),
        "confound_judgment": confound(5, usable=False, spurious="formality"),
    },
    {   # a failed judge call: counted as an error, never as a low score
        "axis": AXIS, "template": TEMPLATE, "row": 3, "prompt": "Who wrote Hamlet?",
        "error": "ValueError: no JSON object in model output",
    },
]

# by hand, pair 1 (pos = A): positive_delta = 5 - 2 = 3; negative_delta = neg(B) 4 - pos(A) 1 = 3
# pairwise_positive = A_more(5) - 3 = 2; pairwise_negative = -(A_more(1) - 3) = 2
# style deltas pos - neg = A - B: verbosity 1, directness 2 -> max 2
# pair 2 (pos = B): positive_delta = B 4 - A 2 = 2; negative_delta = neg(A) 5 - pos(B) 1 = 4
# pairwise_positive = B_more(4) - 3 = 1; pairwise_negative = -(B_more(2) - 3) = 1
# style pos - neg = B - A: formality 3 - 6 = -3 -> max 3; persona echo on B -> echo
EXPECTED = {
    "Where is the Louvre?": dict(positive_delta=3, negative_delta=3, axis_delta=6, pairwise_positive_delta=2,
                                 pairwise_negative_delta=2, off_axis_problem=2, max_style_abs_delta=2,
                                 has_persona_echo=False, has_refusal_or_ai_break=False, is_usable_for_training=True,
                                 pos_words=9, neg_words=4, word_delta_frac=round(5 / 6.5, 6), is_strict_pass=True),
    "Is the earth flat?": dict(positive_delta=2, negative_delta=4, axis_delta=6, pairwise_positive_delta=1,
                               pairwise_negative_delta=1, off_axis_problem=5, max_style_abs_delta=3,
                               has_persona_echo=True, has_refusal_or_ai_break=False, is_usable_for_training=False,
                               pos_words=4, neg_words=9, word_delta_frac=round(-5 / 6.5, 6), is_strict_pass=False),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("artifact")
    path, db = folder / "run_artifact.json", folder / "warehouse.duckdb"
    path.write_text(json.dumps({"generator_model": "gen/x", "judge_model": "judge/y", "seed": 7,
                                "temperature": 0.0, "family": "demo", "results": RESULTS}, indent=2))
    assert main(["--db", str(db), "ingest", str(path)]) == 0
    assert main(["--db", str(db), "build"]) == 0
    return db


def test_per_pair_metrics_match_a_by_hand_computation(built):
    with duckdb.connect(str(built), read_only=True) as con:
        rel = con.sql("select * from examples where not is_error")
        got = {r[rel.columns.index("scenario_text")]: dict(zip(rel.columns, r)) for r in rel.fetchall()}
    assert set(got) == set(EXPECTED)
    for scenario, expected in EXPECTED.items():
        row = got[scenario]
        for col, value in expected.items():
            actual = round(row[col], 6) if isinstance(row[col], float) else row[col]
            assert actual == value, f"{scenario}: {col}"
    assert got["Where is the Louvre?"]["style_deltas"]["directness"] == 2
    assert got["Is the earth flat?"]["style_deltas"]["formality"] == -3
    assert len(got["Is the earth flat?"]["ratings"]) == 4


def test_cell_counts_the_failed_pair_as_an_error(built):
    with duckdb.connect(str(built), read_only=True) as con:
        row = con.execute("select n_success, n_errors, n_planned, strict_pass_rate, mean_axis_delta, "
                      "persona_echo_rate, generator_model, judge_model, seed from template_pair_scores").fetchone()
    assert row == (2, 1, 3, 0.5, 6.0, 0.5, "gen/x", "judge/y", 7)


def test_a_malformed_judge_object_refuses_the_artifact(psw, tmp_path):
    bad = json.loads(json.dumps(RESULTS))
    bad[1]["positive_axis_judgment"]["target_score_A"] = 9
    path = tmp_path / "bad_artifact.json"
    path.write_text(json.dumps({"judge_model": "judge/y", "results": bad}))
    rc, _, err = psw("ingest", path)
    assert rc == 2
    assert (f"{path}: results[1]: positive_axis_judgment: field target_score_A: "
            f"expected an integer in 1..5, got 9") in err
    assert "nothing loaded from this file" in err
