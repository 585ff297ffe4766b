"""Upstream's two-stage selection reproduced with `psw export-selection --format upstream --stage-a`
(issue 24 part 4): stage A's winner is stage_screens' (strict_pass_rate, then mean_axis_delta),
stage B's pairs of that cell are selected as export_selections.py does (top N, strict only, at
most N per source), and `<name>_summary.json` carries n_selected, source_counts and the stage
rows. Loaded back beside a hand-written upstream summary, selection_reproduction says where the
two agree and differ.

The artifacts are written by hand in upstream's anchored shape (tests/anchored_fixture.py). Per
pair (p, q, g): each judge rates the positive pole p above the baseline and the baseline q above
the negative pole, and the gate is g; so axis_delta = 2(p + q), min_side_delta = min(p, q),
overall_score = 4 min(p, q) - g, and strict pass needs axis_delta >= 3, min side >= 0.5, gate <= 2.
"""

from __future__ import annotations

import json

import duckdb
import pytest

import anchored_fixture as fx
from psw.cli import main

T1, T2, T3 = "You are a {persona} person.", "Act as someone {persona}.", "Imagine being {persona}."
SOURCES = {"sa1": "src_a", "sb1": "src_b", "b1": "src_a", "b2": "src_a", "b3": "src_a", "b4": "src_b", "b5": "src_b"}
# stage A: T1 and T2 both pass strict on one scenario of two; T1 wins on mean_axis_delta (3.2 > 3.0),
# though T2's text sorts first
STAGE_A = [(T1, "sa1", 1.0, 1.0, 1.0), (T1, "sb1", 0.2, 1.0, 1.0),
           (T2, "sa1", 1.0, 1.0, 1.0), (T2, "sb1", 0.5, 0.5, 1.0),
           (T3, "sa1", 0.3, 0.3, 1.0), (T3, "sb1", 0.2, 0.2, 1.0),
           ("", "sa1", 0.0, 0.0, 1.0)]
# stage B: the winner over five scenarios (overall 3.0, 5.0, 0.2, 0.5, 3.8; strict: b1, b2, b4), and
# one T2 pair that outscores them all and must not be selected
STAGE_B = [(T1, "b1", 1.0, 1.0, 1.0), (T1, "b2", 1.5, 1.5, 1.0), (T1, "b3", 0.3, 1.5, 1.0),
           (T1, "b4", 1.0, 0.5, 1.5), (T1, "b5", 1.7, 1.7, 3.0), (T2, "b1", 2.0, 2.0, 1.0)]


def _spec(template: str, p: float, q: float, g: float) -> dict:
    calls = [fx.call(round(3 + p, 1)), fx.call(round(3 - p, 1)), fx.call(round(3 + q, 1)), fx.call(round(3 - q, 1))]
    axis, low, overall = 2 * (p + q), min(p, q), 4 * min(p, q) - g
    return dict(template=template, prompt="", pos_label="A", method="json", pos="I would say so plainly.",
                neg="I would say whatever pleases.", base="I would answer.", judges={fx.J1: calls, fx.J2: calls},
                style=fx.style({}, {}), confound=fx.confound({"length": g}, g),
                want=dict(delta_pos_vs_base=p, delta_base_vs_neg=q, axis_delta=axis, min_side_delta=low, gate=g,
                          max_style=0.0, judge_did_not_commit=False, overall_score=overall,
                          strict_pass=axis >= 3 and low >= 0.5 and g <= 2))


def write_stage(path, rows) -> None:
    doc = fx.artifact(inspect_log=None)
    results = []
    for i, (template, scenario, p, q, g) in enumerate(rows, 1):
        spec = _spec(template, p, q, g)
        spec["prompt"] = f"Scenario {scenario}: what do you say?"
        result = fx.result(spec, i)
        result["scenario_id"] = scenario
        results.append(result)
    doc["results"] = results
    fx.write(path, doc)


STAGE_A_WINNER = {   # T1's stage A row by hand (3 dp, as upstream rounds)
    "axis": fx.AXIS["id"], "template": T1, "n": 2, "strict_pass_rate": 0.5, "mean_axis_delta": 3.2,
    "mean_delta_pos_vs_base": 0.6, "mean_delta_base_vs_neg": 1.0, "mean_min_side_delta": 0.6,
    "mean_overall_score": 1.4, "mean_off_axis_problem": 1.0, "mean_max_style_abs_delta": 0.0,
    "mean_axis_delta_judge_std": 0.0, "mean_max_off_axis_category_likert": 1.0,
    "persona_echo_rate": 0.0, "refusal_or_ai_break_rate": 0.0, "recommended": False,
}
STAGE_B_ROW = {"n": 5, "strict_pass_rate": 0.6, "mean_axis_delta": 4.68, "mean_overall_score": 2.5,
               "mean_off_axis_problem": 1.5, "mean_min_side_delta": 1.0}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("stages")
    db = d / "w.duckdb"
    (d / "scenarios.jsonl").write_text("".join(json.dumps({"id": s, "prompt": f"Scenario {s}: what do you say?",
                                                           "source": src}) + "\n" for s, src in SOURCES.items()))
    write_stage(d / "stage_a.json", STAGE_A)
    write_stage(d / "stage_b.json", STAGE_B)
    for name in ("scenarios.jsonl", "stage_a.json", "stage_b.json"):
        assert main(["--db", str(db), "ingest", str(d / name)]) == 0, name
    assert main(["--db", str(db), "build"]) == 0
    return d, db


def export(db, out, *flags) -> int:
    return main(["--db", str(db), "export-selection", "--format", "upstream", "--stage-a", "stage_a",
                 "--measurement", "stage_b", "--out", str(out), *flags])


def q(db, sql, params=None):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_stage_a_winner_is_ranked_by_strict_pass_rate_then_mean_axis_delta(built):
    _, db = built
    assert q(db, "select template_text, stage_rank, is_stage_winner from stage_screens "
                 "where measurement_id = 'stage_a' order by stage_rank nulls last") == [
        (T1, 1, True), (T2, 2, False), (T3, 3, False), ("", None, False)]


def test_the_staged_selection_and_its_summary_equal_the_hand_computation(built, tmp_path):
    _, db = built
    out = tmp_path / "ours.jsonl"
    assert export(db, out, "--strict-only", "--top-n", "2", "--keep-per-source", "1") == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    # strict, best overall first: b2 (5.0), b1 (3.0), b4 (0.5); one per source keeps b2 and b4
    assert [(r["scenario_id"], r["source"], r["template"], r["overall_score"]) for r in rows] == [
        ("b2", "src_a", T1, 5.0), ("b4", "src_b", T1, 0.5)]
    # the run's settings as the artifact recorded them; length_ok from examples (the gate is off at 0)
    assert {(r["length_ok"], r["strict_pass"], r["//max_word_delta_frac"], r["//axis_delta_threshold"],
             r["//validation_input"]) for r in rows} == {(True, True, 0.0, 3.0, "stage_b")}
    summary = json.loads((tmp_path / "ours_summary.json").read_text())
    assert (summary["axis"], summary["template"], summary["generator_model"], summary["n_selected"]) == \
        (fx.AXIS["id"], T1, "gen/x", 2)
    assert summary["source_counts"] == [{"source": "src_a", "n": 1}, {"source": "src_b", "n": 1}]
    for key, want in STAGE_A_WINNER.items():
        assert summary["stage_a"][key] == pytest.approx(want), key
    for key, want in STAGE_B_ROW.items():
        assert summary["stage_b_summary"][key] == pytest.approx(want), key
    assert (summary["//stage_a_input"], summary["//stage_b_input"], summary["//selection"]) == \
        ("stage_a", "stage_b", {"top_n": 2, "strict_only": True, "keep_per_source": 1})
    # without the cap: the top two strict pairs, both from src_a
    assert export(db, tmp_path / "uncapped.jsonl", "--strict-only", "--top-n", "2") == 0
    uncapped = json.loads((tmp_path / "uncapped_summary.json").read_text())
    assert uncapped["source_counts"] == [{"source": "src_a", "n": 2}]


UPSTREAM_SUMMARY = {   # hand-written in upstream's summary shape; three numbers differ from ours on purpose
    "axis": fx.AXIS["id"], "template": T1, "generator_model": "gen/x", "judge_model": "judge/style",
    "stage_a": {**STAGE_A_WINNER, "mean_overall_score": 1.5, "mean_axis_delta_judge_std": 0.1,
                "n_errors": 0},   # a key psw does not write
    "stage_b_summary": {"axis": fx.AXIS["id"], "template": T1, **STAGE_B_ROW},
    "n_selected": 2, "source_counts": [{"source": "src_a", "n": 1}, {"source": "src_c", "n": 1}],
}


def test_selection_reproduction_compares_ours_with_upstreams_summary(built, tmp_path):
    d, db = built
    out = d / "ours.jsonl"
    assert export(db, out, "--strict-only", "--top-n", "2", "--keep-per-source", "1") == 0
    theirs = d / "honest_untruthful_gen-x_score25_summary.json"
    theirs.write_text(json.dumps(UPSTREAM_SUMMARY, indent=2))
    for path in (theirs, d / "ours_summary.json"):
        assert main(["--db", str(db), "ingest", str(path)]) == 0, path
    assert main(["--db", str(db), "build"]) == 0
    got = {(s, src): status for s, src, status in q(db, """
        select statistic, scenario_source, status from selection_reproduction
        where upstream_selection_id = 'honest_untruthful_gen-x_score25' and our_selection_id = 'ours'""")}
    assert got[("template", None)] == "agree"
    assert got[("n_selected", None)] == "agree"
    assert {src: got[("source_counts", src)] for src in ("src_a", "src_b", "src_c")} == \
        {"src_a": "agree", "src_b": "differs", "src_c": "differs"}
    assert got[("stage_a.mean_axis_delta", None)] == "agree"
    assert got[("stage_a.strict_pass_rate", None)] == "agree"
    assert got[("stage_a.recommended", None)] == "agree"
    assert got[("stage_a.mean_overall_score", None)] == "differs"             # 1.5 published, 1.4 ours
    assert got[("stage_a.mean_axis_delta_judge_std", None)] == "differs"      # 0.1 published, 0 ours (judges agree)
    assert got[("stage_a.n_errors", None)] == "not_measured"
    assert got[("stage_b_summary.mean_axis_delta", None)] == "agree"
    assert got[("stage_b_summary.mean_abs_word_delta_frac", None)] == "not_published"
    # our summary is compared here, not with a pool in selection_comparison
    assert q(db, "select count(*) from selection_comparison where selection_id = 'ours'") == [(0,)]


@pytest.mark.parametrize("flags, message", [
    (["--format", "upstream", "--stage-a", "stage_a", "--out", "x.jsonl"], "--stage-a: name stage B with --measurement"),
    (["--stage-a", "stage_a", "--out", "dir"], "--stage-a: only with --format upstream"),
    (["--format", "upstream", "--stage-a", "nope", "--measurement", "stage_b", "--out", "x.jsonl"],
     "--stage-a nope: no ranked cells"),
    (["--format", "upstream", "--stage-a", "stage_a", "--measurement", "stage_b", "--strict-only", "--top-n", "3",
      "--keep-per-source", "1", "--out", "x.jsonl"], "only 2 pairs pass strict within --keep-per-source 1"),
    (["--format", "upstream", "--stage-a", "stage_a", "--measurement", "stage_b", "--keep-per-source", "0",
      "--out", "x.jsonl"], "--keep-per-source 0: must be at least 1"),
])
def test_a_bad_option_combination_is_one_line(built, tmp_path, capsys, monkeypatch, flags, message):
    _, db = built
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["--db", str(db), "export-selection", *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not any(tmp_path.iterdir())
