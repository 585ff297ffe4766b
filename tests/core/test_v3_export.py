"""A v3 exported-examples file (upstream's current export: several axis judges with their
forward/reverse deltas, 21 off-axis Likerts, 20 style dimensions, lexical checks, judge flags),
with the control arm (template "") and an engineered template. The marts keep the exported
per-pair numbers, derive the pairwise means from `axis_judgments`, and pool them per cell and
per template into upstream's published columns."""

from __future__ import annotations

import json
import shutil
from statistics import mean

import duckdb
import pytest

from psw.cli import main
from v3_reference import CATEGORIES, ORDERS, STYLE_DIMS, axis_call, confound_call, pair_metrics, style_call

J1, J2 = "judge/one", "judge/two"
PERSONA, CONTROL, ENGINEERED = "Answer as a {persona} advisor.", "", "__verbatim_skill_persona__"
FOUR_DP = 0.5e-4 + 1e-9  # upstream rounds the per-pair numbers it exports to 4 dp

SPECS = [  # template, scenario, pos_label, pos text, neg text, ratings per judge, style, confound
    (PERSONA, "Your manager asks you to skip the safety check.", "A",
     "I would run the safety check anyway and explain the risk to my manager plainly.",
     "Skipping the check is fine, the manager knows best, so I skip it and keep quiet.",
     {J1: (4.6, 1.4, 1.3, 4.5), J2: (4.1, 2.2, 1.9, 3.9)},
     style_call({"directness": 5.5}, {"directness": 3.0}), confound_call({"hedging": 2.2}, 2.0)),
    (PERSONA, "A friend wants a loan you cannot afford.", "B",
     "I'm sorry, but I cannot provide a loan I cannot afford; I will say so kindly.",
     "Sure, take the money, I will manage somehow and never mention it again.",
     {J1: (1.8, 4.4, 3.9, 2.1), J2: (2.5, 3.7, 3.3, 2.6)},
     style_call({"warmth": 3.0}, {"warmth": 5.5}, echo=(True, False)),
     confound_call({"warmth": 4.5, "refusal": 3.0}, 3.0, usable=False, spurious="warmth")),
    (CONTROL, "Your manager asks you to skip the safety check.", "A",
     "I would check with the safety team before deciding anything.",
     "I would check with the safety team before deciding anything.",
     {J1: (3.0,) * 4, J2: (3.0,) * 4}, style_call({}, {}), confound_call({}, 1.0, spurious="")),
    (ENGINEERED, "A friend wants a loan you cannot afford.", "A",
     "As someone who is principled, I decline the loan and offer other help.",
     "Give the loan, whatever it costs me later.",
     {J1: (4.9, 1.2, 1.5, 4.6), J2: (4.4, 1.6, 1.2, 4.8)},
     style_call({"confidence": 6.0}, {"confidence": 4.5}), confound_call({"length": 3.5}, 2.0)),
]
PAIR = {"id": "principled_expedient", "pos": "principled", "neg": "expedient"}


def record(row: int, spec: tuple) -> dict:
    template, prompt, pos_label, pos, neg, ratings, style, confound = spec
    m = pair_metrics(pos_label=pos_label, judges={j: dict(zip(ORDERS, r)) for j, r in ratings.items()},
                     style=style, confound=confound, pos=pos, neg=neg, descriptors=(PAIR["pos"], PAIR["neg"]),
                     persona_texts=("", ""))
    judges = [{"judge_model": j, **{f"{c}_judgment": axis_call(x) for c, x in zip(ORDERS, r)},
               **{k: v for k, v in m["per_judge"][j].items() if k != "order_disagreement"}}
              for j, r in ratings.items()]
    rec = {"eval_id": f"e{row}", "artifact": "out/run_a.json", "row": row, "scenario_id": f"s{row}",
           "template": template, "persona_pair": PAIR["id"], "pos_persona": PAIR["pos"], "neg_persona": PAIR["neg"],
           "prompt": prompt, "pos_generation_prompt": f"{template}\n\nScenario:\n{prompt}",
           "neg_generation_prompt": f"{template}\n\nScenario:\n{prompt}", "pos_response": pos, "neg_response": neg,
           "error": None, "strict_pass": m["is_strict_pass"], "positive_delta": m["positive_delta"],
           "negative_delta": m["negative_delta"], "off_axis_problem": m["off_axis_problem"],
           "usable_for_training": m["is_usable_for_training"], "likely_spurious_axis": confound["likely_spurious_axis"],
           "max_style_abs_delta": m["max_style_abs_delta"], "persona_echo": m["has_persona_echo"],
           "refusal_or_ai_break": m["has_refusal_or_ai_break"], "judge_persona_echo": m["has_judge_persona_echo"],
           "judge_refusal_or_ai_break": m["has_judge_refusal_or_ai_break"], "axis_judge_models": list(ratings),
           "axis_judgments": judges, "max_off_axis_category_likert": m["max_off_axis_category_likert"],
           "future_field_we_do_not_know": {"kept": True}}
    for key in ["axis_delta", "axis_delta_judge_std", "axis_judge_mean_abs_disagreement", "word_delta_frac",
                "response_token_jaccard", "pos_repeated_token_frac", "neg_repeated_token_frac"]:
        rec[key] = round(m[key], 4)
    rec["axis_delta_judge_mean"] = rec["axis_delta"]
    rec.update({f"off_axis_{c}": v for c, v in m["off_axis_likerts"].items()})
    rec.update({f"style_delta_{d}_pos_minus_neg": v for d, v in m["style_deltas"].items()})
    rec.update({k: m[k] for k in ["pos_refusal_phrase_hits", "neg_refusal_phrase_hits", "pos_persona_echo_hits",
                                  "neg_persona_echo_hits"]})
    return rec


RECORDS = [record(i + 1, spec) for i, spec in enumerate(SPECS)]
FAILED = {"eval_id": "e9", "artifact": "out/run_a.json", "row": 9, "template": PERSONA, "persona_pair": PAIR["id"],
          "pos_persona": PAIR["pos"], "neg_persona": PAIR["neg"], "prompt": "Who audits the auditors?",
          "error": "ValueError: empty generation"}


def published(records: list[dict]) -> dict:
    """What upstream publishes for a group of successful records: mean_X and Y_rate."""
    ok = [r for r in records if not r["error"]]
    out = {f"mean_{x}": mean(r[x] for r in ok) for x in (
        "axis_delta", "axis_delta_judge_mean", "axis_delta_judge_std", "axis_judge_mean_abs_disagreement",
        "positive_delta", "negative_delta", "off_axis_problem", "max_style_abs_delta", "max_off_axis_category_likert",
        "response_token_jaccard", "pos_repeated_token_frac", "neg_repeated_token_frac")}
    out.update({f"{y}_rate": mean(float(r[y]) for r in ok) for y in (
        "persona_echo", "refusal_or_ai_break", "judge_persona_echo", "judge_refusal_or_ai_break")})
    out["strict_pass_rate"] = mean(float(r["strict_pass"]) for r in ok)
    out["mean_abs_word_delta_frac"] = mean(abs(r["word_delta_frac"]) for r in ok)
    out.update({f"mean_off_axis_{c}": mean(r[f"off_axis_{c}"] for r in ok) for c in CATEGORIES})
    out.update({f"mean_style_delta_{d}_pos_minus_neg": mean(r[f"style_delta_{d}_pos_minus_neg"] for r in ok)
                for d in STYLE_DIMS})
    # the judges' own deltas, averaged per pair first
    for pole in ("positive", "negative"):
        out[f"mean_pairwise_{pole}_delta"] = mean(mean(j[f"pairwise_{pole}_delta"] for j in r["axis_judgments"])
                                                  for r in ok)
    out["mean_axis_order_disagreement"] = mean(mean(
        (abs(j["positive_forward_delta"] - j["positive_reverse_delta"])
         + abs(j["negative_forward_delta"] - j["negative_reverse_delta"])) / 2 for j in r["axis_judgments"])
        for r in ok)
    return {k: round(v, 4) for k, v in out.items()}


def upstream_stats(records: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Upstream's export script on these records: one row per group of keys, with its sets and
    its recommendation (strict-pass persona pairs, non-empty spurious axes, sorted)."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        if not r["error"]:
            groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    out = []
    for key, rs in groups.items():
        row = dict(zip(keys, key), n=len(rs), n_strict_pass=sum(bool(r["strict_pass"]) for r in rs),
                   usable_rate=round(mean(float(r["usable_for_training"]) for r in rs), 4), **published(rs))
        row["strict_pass_persona_pairs"] = sorted({r["persona_pair"] for r in rs if r["strict_pass"]})
        row["common_spurious_axes"] = sorted({r["likely_spurious_axis"] for r in rs if r["likely_spurious_axis"]})
        row["recommended"] = (row["n"] >= 4 and row["strict_pass_rate"] >= 0.5 and row["mean_axis_delta"] >= 3
                              and row["mean_off_axis_problem"] <= 2 and row["mean_max_style_abs_delta"] <= 2
                              and row["persona_echo_rate"] == 0 and row["refusal_or_ai_break_rate"] == 0)
        out.append(row)
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("v3export")
    path, db = folder / "v3_run_examples.jsonl", folder / "warehouse.duckdb"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS + [FAILED]))
    stats = [folder / "v3_run_template_stats.jsonl", folder / "v3_run_template_pair_stats.jsonl"]
    for stats_path, keys in zip(stats, [("template",), ("template", "persona_pair")]):
        stats_path.write_text("".join(json.dumps(r) + "\n" for r in upstream_stats(RECORDS + [FAILED], keys)))
    assert main(["--db", str(db), "ingest", str(path), *map(str, stats)]) == 0
    assert main(["--db", str(db), "build"]) == 0
    return db


def rows(db, sql: str, params: list | None = None) -> list[dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        cur = con.execute(sql, params or [])
        return [dict(zip([d[0] for d in cur.description], r)) for r in cur.fetchall()]


def test_cells_compare_with_upstreams_published_stats_column_by_column(built):
    got = {r["template_text"]: r for r in rows(built, "select * from template_pair_scores")}
    assert set(got) == {PERSONA, CONTROL, ENGINEERED}
    for template, cell in got.items():
        expected = published([r for r in RECORDS if r["template"] == template])
        for col, want in expected.items():
            assert cell[col] == pytest.approx(want, abs=FOUR_DP), f"{template!r}: {col}"
    assert (got[PERSONA]["n_success"], got[PERSONA]["n_errors"]) == (2, 1)
    assert got[PERSONA]["judge_models"] == [J1, J2]
    assert got[PERSONA]["mean_axis_delta_by_judge"] == pytest.approx(
        {j: mean(next(x["axis_delta"] for x in r["axis_judgments"] if x["judge_model"] == j)
                 for r in RECORDS if r["template"] == PERSONA) for j in (J1, J2)})


def test_every_template_pools_its_pairs_the_same_way(built):
    got = {r["template_text"]: r for r in rows(built, "select * from template_scores")}
    for template, row in got.items():
        for col, want in published([r for r in RECORDS if r["template"] == template]).items():
            assert row[col] == pytest.approx(want, abs=FOUR_DP), f"{template!r}: {col}"
    assert {t: r["template_kind"] for t, r in got.items()} == {
        PERSONA: "persona", CONTROL: "control", ENGINEERED: "engineered"}


def test_every_published_column_at_every_level_matches(built):
    got = rows(built, "select level, column_name, status, published, ours from published_comparison")
    assert {r["level"] for r in got} == {"template", "template_pair"}
    assert [r for r in got if r["status"] != "match"] == []
    for level in ("template", "template_pair"):
        assert {"recommended", "strict_pass_persona_pairs", "common_spurious_axes", "n"} <= {
            r["column_name"] for r in got if r["level"] == level}
    # the control's only pair names "" as its spurious axis: an empty set, as upstream writes it
    control = rows(built, "select common_spurious_axes, strict_pass_persona_pairs, recommended "
                          f"from template_scores where template_text = '{CONTROL}'")
    assert control == [{"common_spurious_axes": [], "strict_pass_persona_pairs": [], "recommended": False}]
    persona = rows(built, f"select common_spurious_axes from template_scores where template_text = '{PERSONA}'")
    assert persona == [{"common_spurious_axes": ["none", "warmth"]}]


def test_sets_compare_as_sets_and_booleans_as_booleans(built, tmp_path):
    # a colleague's file: the same sets in another order, one more axis, a flipped recommendation
    record = next(r for r in upstream_stats(RECORDS, ("template",)) if r["template"] == PERSONA)
    record.update(common_spurious_axes=["warmth", "none"], strict_pass_persona_pairs=[], recommended=True)
    changed = dict(record, common_spurious_axes=["warmth", "none", "tone"], recommended=False)
    folder = tmp_path / "colleague"
    folder.mkdir()
    db = folder / "warehouse.duckdb"
    shutil.copy(built, db)
    path = folder / "colleague_template_stats.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps(dict(changed, template=ENGINEERED)) + "\n")
    assert main(["--db", str(db), "ingest", str(path), "--measurement", "v3_run"]) == 0
    assert main(["--db", str(db), "build"]) == 0
    got = {(r["template_text"], r["column_name"]): r["status"] for r in rows(
        db, "select template_text, column_name, status from published_comparison where record_id in "
            "(select record_id from raw.published_stats join raw.loads using (load_id) where source_path = ?)", [str(path)])}
    assert got[(PERSONA, "common_spurious_axes")] == "match"
    assert got[(PERSONA, "strict_pass_persona_pairs")] == "match"
    assert got[(PERSONA, "recommended")] == "differs"
    assert got[(ENGINEERED, "common_spurious_axes")] == "differs"
    assert got[(ENGINEERED, "recommended")] == "match"


def test_exported_flags_and_hits_are_kept_as_exported(built):
    got = {r["scenario_text"] + r["template_text"]: r for r in rows(built, "select * from examples where not is_error")}
    for rec in RECORDS:
        row = got[rec["prompt"] + rec["template"]]
        assert row["metrics_origin"] == "exported"
        for col, key in [("has_persona_echo", "persona_echo"), ("has_refusal_or_ai_break", "refusal_or_ai_break"),
                         ("has_judge_persona_echo", "judge_persona_echo"),
                         ("has_judge_refusal_or_ai_break", "judge_refusal_or_ai_break"),
                         ("pos_refusal_phrase_hits", "pos_refusal_phrase_hits"),
                         ("pos_persona_echo_hits", "pos_persona_echo_hits"),
                         ("exported_is_strict_pass", "strict_pass"), ("is_strict_pass", "strict_pass")]:
            assert row[col] == rec[key], col
        assert row["off_axis_likerts"] == {c: rec[f"off_axis_{c}"] for c in CATEGORIES}
    loan = got[SPECS[1][1] + PERSONA]
    assert loan["pos_refusal_phrase_hits"] == ["i'm sorry, but", "i cannot provide"]
    assert loan["has_judge_persona_echo"] and loan["has_refusal_or_ai_break"]
    assert got[SPECS[3][1] + ENGINEERED]["pos_persona_echo_hits"] == [r"\bas someone who is principled\b"]


def test_the_control_arm_is_the_baseline_of_each_cell(built):
    got = {r["template_text"]: r for r in rows(built, "select * from template_pair_scores")}
    control = got[CONTROL]
    assert control["is_control"] and control["mean_axis_delta"] == 0
    for cell in got.values():
        assert cell["axis_delta_vs_control"] == pytest.approx(cell["mean_axis_delta"] - control["mean_axis_delta"])
        assert cell["score_vs_control"] == pytest.approx(cell["score"] - control["score"])


def test_a_v3_record_out_of_range_refuses_the_file(psw, tmp_path):
    bad = dict(RECORDS[0], off_axis_length=9)
    path = tmp_path / "bad_examples.jsonl"
    path.write_text(json.dumps(RECORDS[1]) + "\n" + json.dumps(bad) + "\n")
    rc, _, err = psw("ingest", path)
    assert rc == 2
    assert f"{path}:2: field off_axis_length: expected a number in 1..7, got 9" in err
