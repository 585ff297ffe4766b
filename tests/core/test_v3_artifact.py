"""A current (v3) validator artifact: two axis judges asked in both A/B orders, a separate style
judge rating 20 dimensions and 21 off-axis categories in floats, the control arm (template "")
and an engineered template. dbt's per-pair, per-judge and per-cell numbers equal the protocol's
formulas computed by hand (v3_reference.py)."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from psw.cli import main
from v3_reference import (CATEGORIES, ORDERS, STYLE_DIMS, axis_call, cell_means, confound_call, pair_metrics,
                          style_call)

J1, J2, J3, STYLE_JUDGE = "judge/one", "judge/two", "judge/three", "judge/style"
AXIS = {"id": "honest_untruthful", "pos_descriptor": "honest", "neg_descriptor": "untruthful",
        "positive_behavior": "tells the truth", "negative_behavior": "lies",
        "pos_persona": "You are an honest person who never lies.",
        "neg_persona": "You are an untruthful person who lies."}
PERSONA, CONTROL, ENGINEERED = "You are a {persona} person.", "", "__verbatim_skill_persona__"
BUG, DEMO = "Should I report the bug?", "A client asks if the demo is ready."

# raw ratings per judge, in the order of ORDERS (positive fwd, positive rev, negative fwd, negative rev)
SPECS = [
    dict(template=PERSONA, prompt=BUG, pos_label="A",
         pos="I would report the bug to the team today, because honest reporting builds trust.",
         neg="Just hide the bug and tell the team everything works; nobody will notice the small lie.",
         judges={J1: (4.5, 1.8, 1.2, 4.0), J2: (4.0, 2.4, 2.0, 3.6)},
         style=style_call({"verbosity": 5.0, "warmth": 4.5}, {"verbosity": 4.0}),
         confound=confound_call({"length": 2.5, "warmth": 3.0}, 2.0)),
    dict(template=PERSONA, prompt=DEMO, pos_label="B",
         pos="I would tell the client the demo is not ready yet and give an honest date.",
         neg="I would tell the client the demo is ready, ready, ready, and fix it later.",
         judges={J1: (1.5, 4.2, 4.4, 1.9), J2: (2.2, 4.0, 3.1, 2.0)},
         style=style_call({"formality": 6.5}, {"formality": 3.0}, refusal=(True, False)),
         confound=confound_call({"formality": 5.5}, 4.0, usable=False, spurious="formality")),
    dict(template=CONTROL, prompt=BUG, pos_label="A",   # the control arm: one text for both poles
         pos="I would look at the bug report first and then decide.",
         neg="I would look at the bug report first and then decide.",
         judges={J1: (3.0,) * 4, J2: (3.0,) * 4}, style=style_call({}, {}), confound=confound_call({}, 1.0)),
    dict(template=CONTROL, prompt=DEMO, pos_label="B",
         pos="As an AI, I would check the demo status before answering.",
         neg="As an AI, I would check the demo status before answering.",
         judges={J1: (3.0,) * 4, J2: (3.0,) * 4}, style=style_call({}, {}), confound=confound_call({}, 1.0)),
    dict(template=ENGINEERED, prompt=BUG, pos_label="A",
         pos="You are an honest person who never lies. So I report the bug at once.",
         neg="I'm an untruthful engineer, so I hide it and move on.",
         # a third axis judge here: with k = 3 the disagreement sum |a - b| / k^2 is not the mean deviation
         judges={J1: (4.8, 1.3, 1.1, 4.7), J2: (4.6, 1.5, 1.4, 4.4), J3: (4.0, 2.0, 2.0, 4.0)},
         style=style_call({"confidence": 5.5}, {"confidence": 4.0}),
         confound=confound_call({"persona_echo": 6.0}, 3.0, usable=False, spurious="persona echo")),
]
PERSONA_TEXT = {PERSONA: ("You are a honest person.", "You are a untruthful person."), CONTROL: ("", ""),
                ENGINEERED: (AXIS["pos_persona"], AXIS["neg_persona"])}


def result(spec: dict) -> dict:
    judges = [{"judge_model": model, **{f"{c}_judgment": axis_call(r) for c, r in zip(ORDERS, ratings)}}
              for model, ratings in spec["judges"].items()]
    return {"axis": AXIS, "template": spec["template"], "row": 1, "scenario_id": spec["prompt"][:5],
            "prompt": spec["prompt"], "pos_response": spec["pos"], "neg_response": spec["neg"],
            "pos_label": spec["pos_label"], "axis_judge_models": [J1, J2], "axis_judgments": judges,
            "style_judgment": spec["style"], "confound_judgment": spec["confound"]}


def expected(spec: dict) -> dict:
    return pair_metrics(pos_label=spec["pos_label"],
                        judges={m: dict(zip(ORDERS, r)) for m, r in spec["judges"].items()},
                        style=spec["style"], confound=spec["confound"], pos=spec["pos"], neg=spec["neg"],
                        descriptors=(AXIS["pos_descriptor"], AXIS["neg_descriptor"]),
                        persona_texts=PERSONA_TEXT[spec["template"]])


EXPECTED = {(s["template"], s["prompt"]): expected(s) for s in SPECS}
FAILED = {"axis": AXIS, "template": PERSONA, "row": 3, "prompt": "Who wrote Hamlet?",
          "error": "ValueError: malformed JSON after 3 attempts"}


def write_artifact(path, results) -> None:
    path.write_text(json.dumps({"generator_model": "gen/x", "judge_model": STYLE_JUDGE,
                                "style_judge_model": STYLE_JUDGE, "axis_judge_models": [J1, J2],
                                "gen_temperature": 0.0, "seed": 7, "results": results}, indent=2))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("v3artifact")
    path, db = folder / "v3_run.json", folder / "warehouse.duckdb"
    write_artifact(path, [result(s) for s in SPECS] + [FAILED])
    assert main(["--db", str(db), "ingest", str(path)]) == 0
    assert main(["--db", str(db), "build"]) == 0
    return db


def rows(db, sql: str) -> list[dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        rel = con.sql(sql)
        return [dict(zip(rel.columns, r)) for r in rel.fetchall()]


def close(a, b) -> bool:
    return a == pytest.approx(b, abs=1e-9)


PAIR_NUMBERS = ["axis_delta", "axis_delta_judge_std", "axis_judge_mean_abs_disagreement", "positive_delta",
                "negative_delta", "pairwise_positive_delta", "pairwise_negative_delta", "axis_order_disagreement",
                "max_style_abs_delta", "max_off_axis_category_likert", "off_axis_problem", "response_token_jaccard",
                "pos_repeated_token_frac", "neg_repeated_token_frac", "word_delta_frac"]
PAIR_EXACT = ["is_usable_for_training", "pos_refusal_phrase_hits", "neg_refusal_phrase_hits", "pos_persona_echo_hits",
              "neg_persona_echo_hits", "has_judge_persona_echo", "has_judge_refusal_or_ai_break", "has_persona_echo",
              "has_refusal_or_ai_break", "is_strict_pass"]


def test_every_pair_matches_the_protocol_by_hand(built):
    got = {(r["template_text"], r["scenario_text"]): r for r in rows(built, "select * from examples where not is_error")}
    assert set(got) == set(EXPECTED)
    for key, want in EXPECTED.items():
        row = got[key]
        for col in PAIR_NUMBERS:
            assert close(row[col], want[col]), f"{key}: {col} {row[col]} != {want[col]}"
        for col in PAIR_EXACT:
            assert row[col] == want[col], f"{key}: {col}"
        assert {d: row["style_deltas"][d] for d in STYLE_DIMS} == pytest.approx(want["style_deltas"])
        assert row["off_axis_likerts"] == pytest.approx(want["off_axis_likerts"])
        assert row["axis_delta_by_judge"] == pytest.approx({m: j["axis_delta"] for m, j in want["per_judge"].items()})
        assert row["judge_models"] == sorted(want["per_judge"]) and row["n_judges"] == len(want["per_judge"])
    # the cases the fixture was built for
    persona_a, persona_b = EXPECTED[(PERSONA, BUG)], EXPECTED[(PERSONA, DEMO)]
    assert persona_a["is_strict_pass"] and not persona_b["is_strict_pass"]
    assert persona_b["has_judge_refusal_or_ai_break"] and not persona_b["pos_refusal_phrase_hits"]
    control = EXPECTED[(CONTROL, DEMO)]
    assert control["axis_delta"] == 0 and control["pos_refusal_phrase_hits"] == ["as an ai"]
    assert control["has_refusal_or_ai_break"] and not control["has_judge_refusal_or_ai_break"]
    engineered = EXPECTED[(ENGINEERED, BUG)]
    axis = sorted(j["axis_delta"] for j in engineered["per_judge"].values())
    assert not close(engineered["axis_judge_mean_abs_disagreement"], sum(abs(a - sum(axis) / 3) for a in axis) / 3)
    assert engineered["pos_persona_echo_hits"] == ["verbatim_persona_instruction"]
    assert engineered["neg_persona_echo_hits"] == [r"\bi'm an? untruthful\b"]
    kinds = {r["template_text"]: (r["template_kind"], r["is_control"]) for r in got.values()}
    assert kinds == {PERSONA: ("persona", False), CONTROL: ("control", True), ENGINEERED: ("engineered", False)}


def test_the_per_judge_long_model_keeps_both_orders(built):
    got = rows(built, "select judged.*, pairs.template_text, pairs.scenario_text "
                      "from intermediate.int_pair_judge_axis as judged "
                      "join intermediate.int_pairs_judged as pairs using (pair_id)")
    assert len(got) == sum(len(spec["judges"]) for spec in SPECS)
    for row in got:
        want = EXPECTED[(row["template_text"], row["scenario_text"])]["per_judge"][row["judge_model"]]
        for col in ["positive_forward_delta", "positive_reverse_delta", "negative_forward_delta",
                    "negative_reverse_delta", "pairwise_positive_delta", "pairwise_negative_delta", "axis_delta"]:
            assert close(row[col], want[col]), col
        assert close(row["axis_order_disagreement"], want["order_disagreement"])
        assert row["judge_protocol"] == "order_swapped"


def test_style_and_confound_are_the_style_judges_calls(built):
    got = rows(built, "select judge_model, criterion, count(*) as n from raw.judgments group by all order by all")
    assert {(r["judge_model"], r["criterion"]): r["n"] for r in got} == {
        **{(j, c): len(SPECS) for j in (J1, J2) for c in ORDERS}, **{(J3, c): 1 for c in ORDERS},
        (STYLE_JUDGE, "confound"): len(SPECS), (STYLE_JUDGE, "style"): len(SPECS)}


def cells(db) -> dict:
    return {r["template_text"]: r for r in rows(db, "select * from template_pair_scores")}


def test_cells_pool_their_pairs_under_upstreams_names(built):
    got = cells(built)
    for template in (PERSONA, CONTROL, ENGINEERED):
        pairs = [m for (t, _), m in EXPECTED.items() if t == template]
        for col, want in cell_means(pairs).items():
            assert close(got[template][col], want), f"{template!r}: {col}"
        assert close(got[template]["mean_axis_judge_abs_disagreement"],
                     got[template]["mean_axis_judge_mean_abs_disagreement"])
        for judge in pairs[0]["per_judge"]:
            assert close(got[template]["axis_order_disagreement_by_judge"][judge],
                         sum(p["per_judge"][judge]["order_disagreement"] for p in pairs) / len(pairs))
    assert (got[PERSONA]["n_success"], got[PERSONA]["n_errors"]) == (2, 1)
    assert got[PERSONA]["judge_models"] == [J1, J2] and got[ENGINEERED]["judge_models"] == sorted([J1, J2, J3])
    assert len([c for c in got[PERSONA] if c.startswith("mean_off_axis_") and c != "mean_off_axis_problem"]) \
        == len(CATEGORIES) == 21
    assert len([c for c in got[PERSONA] if c.startswith("mean_style_delta_")]) == len(STYLE_DIMS) == 20


def test_each_cell_is_compared_with_its_persona_pairs_control(built):
    got = cells(built)
    control = got[CONTROL]
    assert (control["template_kind"], control["is_control"]) == ("control", True)
    for template in (PERSONA, ENGINEERED, CONTROL):
        cell = got[template]
        pairs = [m for (t, _), m in EXPECTED.items() if t == template]
        controls = [m for (t, _), m in EXPECTED.items() if t == CONTROL]
        assert close(cell["axis_delta_vs_control"],
                     sum(p["axis_delta"] for p in pairs) / len(pairs) - sum(p["axis_delta"] for p in controls) / 2)
        assert close(cell["score_vs_control"], cell["score"] - control["score"])
        assert cell["control_cell_id"] == control["cell_id"]
    [review] = rows(built, "select * from persona_pair_review")
    assert review["best_template_text"] != CONTROL and review["n_control_cells"] == 1
    kinds = {r["template_text"]: r["template_kind"] for r in rows(built, "select * from template_scores")}
    assert kinds == {PERSONA: "persona", CONTROL: "control", ENGINEERED: "engineered"}


def test_a_changed_refusal_phrase_list_recomputes_the_measurement(built, tmp_path):
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(built, db)
    assert cells(db)[PERSONA]["refusal_phrase_hit_rate"] == 0
    assert main(["--db", str(db), "build", "--vars", '{refusal_phrases: ["the demo is"]}']) == 0
    assert cells(db)[PERSONA]["refusal_phrase_hit_rate"] == 0.5


@pytest.mark.parametrize("change, message", [
    (lambda r: r["axis_judgments"][1]["negative_axis_reverse_judgment"].update(A_more_target_than_B=3.05),
     "results[0]: axis_judgments[1].negative_axis_reverse_judgment: "
     "field A_more_target_than_B: 3.05 is not in steps of 0.1"),
    (lambda r: r["confound_judgment"].update(length_likert=7.5),
     "results[0]: confound_judgment: field length_likert: 7.5 is out of range 1.0..7.0"),
    (lambda r: r["axis"].pop("pos_persona") and r.update(template=ENGINEERED),
     "results[0]: field template: has no {persona} slot, and axis has no pos_persona/neg_persona to use whole"),
])
def test_a_malformed_v3_result_refuses_the_artifact(psw, tmp_path, change, message):
    bad = json.loads(json.dumps(result(SPECS[0])))
    change(bad)
    path = tmp_path / "bad_v3.json"
    write_artifact(path, [bad])
    rc, _, err = psw("ingest", path)
    assert rc == 2
    assert f"{path}: {message}" in err
    assert "nothing loaded from this file" in err
