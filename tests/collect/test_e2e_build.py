"""End to end: collect a 2 x 2 x 2 grid with two judges from the fake server, `psw build`,
and check the marts against a by-hand computation of the scores from the same ratings.

The fake judges rate by formula from (template, persona pair, scenario, judge), in pos/neg
terms, and answer in the blinded A/B terms of the prompt; the by-hand side recomputes
the README's per-pair metrics and the guide's score from the formula alone.
"""

from __future__ import annotations

import json
import re

import pytest

from collect_helpers import ROOT, collect_args, q, write_candidates
from fakeserver import STYLE_DIMS, FakeLLM, FakeServer, criterion_of, is_generation

JUDGES = ("judge/alpha", "judge/beta")


def ratings(t: int, p: int, s: int, j: int) -> dict:
    """What judge j thinks of pair (template t, persona pair p, scenario s), pos/neg terms."""
    return {
        "pos_pos": 5 - (t + s + j) % 3,          # positive-target score of the pos response
        "neg_pos": 1 + (p + s) % 2,              # ... of the neg response
        "pos_neg": 1 + j,                        # negative-target score of the pos response
        "neg_neg": 4 + t % 2,                    # ... of the neg response
        "pw_pos": 5 if j == 0 else 4,            # "pos beats neg" on the positive target
        "pw_neg": 1 + s % 2,                     # "pos beats neg" on the negative target
        "style_pos": {d: 4 + (t + p + s + j + k) % 3 for k, d in enumerate(STYLE_DIMS)},
        "style_neg": {d: 4 for d in STYLE_DIMS},
        "echo": (t, p, s, j) == (1, 1, 1, 1),
        "off": 1 + (2 * t + p + s + j) % 3,
    }


def generation_fails(t, p, s):
    return (t, p, s) == (0, 1, 0)


_KEY = re.compile(r"You are a (alpha|omega)(\d)-\w+ person, variant (\d)\.")


def responder(body):
    text = "\n".join(m["content"] for m in body["messages"])
    if is_generation(body):
        pole, p, t = _KEY.search(body["messages"][0]["content"]).groups()
        s = int(re.search(r"number (\d)", text).group(1))
        if pole == "omega" and generation_fails(int(t), int(p), s):
            return ""
        return f"[{body['messages'][0]['content']}] My answer to situation {s}."
    # the judge prompt lists response A before response B; each response starts with its
    # system prompt in brackets, which says which pole wrote it
    marks = [(m.start(), m.group(1), int(m.group(2)), int(m.group(3)))
             for m in re.finditer(r"\[You are a (alpha|omega)(\d)-\w+ person, variant (\d)\.\]", text)]
    (_, first, p, t), (_, second, _, _) = marks[:2]
    s = int(re.search(r"number (\d)", text).group(1))
    j = JUDGES.index(body["model"])
    r = ratings(t, p, s, j)
    pos_is_a = first == "alpha"
    crit = criterion_of(body)

    def ab(pos_val, neg_val):
        return (pos_val, neg_val) if pos_is_a else (neg_val, pos_val)

    if crit == "axis":
        positive = 'Target behaviour ("alpha' in text
        if positive:
            sa, sb = ab(r["pos_pos"], r["neg_pos"])
            pw = r["pw_pos"]
        else:
            sa, sb = ab(r["pos_neg"], r["neg_neg"])
            pw = r["pw_neg"]
        a_over_b = pw if pos_is_a else 6 - pw
        obj = {"A_more_target_than_B": a_over_b, "B_more_target_than_A": 6 - a_over_b,
               "target_score_A": sa, "target_score_B": sb, "target_reason": "by formula"}
    elif crit == "style":
        obj = {}
        for d in STYLE_DIMS:
            obj[f"{d}_A"], obj[f"{d}_B"] = ab(r["style_pos"][d], r["style_neg"][d])
        obj["persona_echo_A"], obj["persona_echo_B"] = ab(r["echo"], False)
        obj.update(refusal_or_ai_break_A=False, refusal_or_ai_break_B=False, style_reason="f")
    else:
        obj = {"off_axis_problem_likert": r["off"], "likely_spurious_axis": f"axis{r['off']}",
               "usable_for_training": r["off"] <= 2, "confound_reason": "by formula"}
    return "```json\n" + json.dumps(obj) + "\n```"


def expected_cells() -> dict:
    """By hand, from ratings(): README.md per pair, judges averaged, guide's score."""
    cells = {}
    for t in range(2):
        for p in range(2):
            pairs, errors = [], 0
            for s in range(2):
                if generation_fails(t, p, s):
                    errors += 1
                    continue
                per_judge = []
                for j in range(len(JUDGES)):
                    r = ratings(t, p, s, j)
                    positive_delta = r["pos_pos"] - r["neg_pos"]
                    negative_delta = r["neg_neg"] - r["pos_neg"]
                    per_judge.append({
                        "axis": positive_delta + negative_delta,
                        "pw_pos": r["pw_pos"] - 3, "pw_neg": -(r["pw_neg"] - 3),
                        "off": r["off"],
                        "style": max(abs(r["style_pos"][d] - r["style_neg"][d]) for d in STYLE_DIMS),
                        "usable": r["off"] <= 2, "echo": r["echo"], "refusal": False})
                n = len(per_judge)
                pair = {k: sum(x[k] for x in per_judge) / n for k in ("axis", "off", "style", "pw_pos", "pw_neg")}
                pair["usable"] = all(x["usable"] for x in per_judge)
                pair["echo"] = any(x["echo"] for x in per_judge)
                pair["refusal"] = any(x["refusal"] for x in per_judge)
                pair["strict"] = (pair["axis"] >= 3 and pair["off"] <= 2 and pair["usable"]
                                  and pair["style"] <= 2 and not pair["echo"]
                                  and not pair["refusal"])
                pair["disagreement"] = sum(abs(x["axis"] - pair["axis"]) for x in per_judge) / n
                pairs.append(pair)
            n = len(pairs)

            def mean(k):
                return sum(x[k] for x in pairs) / n

            def clamp(x):
                return max(0.0, min(1.0, x))

            c = {"n_success": n, "n_errors": errors, "n_planned": n + errors,
                 "strict_pass_rate": mean("strict"), "mean_axis_delta": mean("axis"),
                 "mean_off_axis_problem": mean("off"), "mean_max_style_abs_delta": mean("style"),
                 "persona_echo_rate": mean("echo"), "refusal_or_ai_break_rate": mean("refusal"),
                 "mean_axis_judge_abs_disagreement": mean("disagreement"),
                 "mean_pairwise_positive_delta": mean("pw_pos"),
                 "mean_pairwise_negative_delta": mean("pw_neg")}
            c["score"] = round(100 * c["strict_pass_rate"] * clamp(c["mean_axis_delta"] / 8)
                               * clamp((7 - c["mean_off_axis_problem"]) / 6)
                               * clamp((6 - c["mean_max_style_abs_delta"]) / 6)
                               * (1 - c["persona_echo_rate"]) * (1 - c["refusal_or_ai_break_rate"]), 1)
            cells[(f"You are a {{persona}} person, variant {t}.", f"pp{p}")] = c
    return cells


def test_collect_build_marts_match_by_hand(tmp_path, secret, capfd):
    if not (ROOT / "dbt" / "dbt_project.yml").exists():
        pytest.skip("the dbt project is not in this checkout yet")
    from psw.cli import main as psw_main
    server = FakeServer(FakeLLM(responder)).start()
    try:
        files = write_candidates(tmp_path / "cand", 2, 2, 2)
        db = tmp_path / "w.duckdb"
        assert psw_main(collect_args(db, server.base_url, files, judges=JUDGES)) == 0
        assert server.llm.requests == 8 * 2 + 7 * 4 * 2
    finally:
        server.stop()
    assert psw_main(["--db", str(db), "build"]) == 0, capfd.readouterr()

    expected = expected_cells()
    cols = ["template_text", "persona_pair_id", "measurement_id", "score", "n_success",
            "n_errors", "n_planned", "mean_axis_delta", "mean_off_axis_problem",
            "mean_max_style_abs_delta", "strict_pass_rate", "persona_echo_rate",
            "refusal_or_ai_break_rate", "judge_model", "mean_axis_judge_abs_disagreement", "mean_pairwise_positive_delta",
            "mean_pairwise_negative_delta"]
    rows = [dict(zip(cols, r)) for r in q(db, f"select {', '.join(cols)} from template_pair_scores")]
    assert len(rows) == 4
    (mid,) = q(db, "select distinct measurement_id from raw.pairs")[0]
    for row in rows:
        exp = expected[(row["template_text"], row["persona_pair_id"])]
        assert row["measurement_id"] == mid
        assert row["judge_model"] == ", ".join(JUDGES)
        for k, v in exp.items():
            assert row[k] == pytest.approx(v, abs=0.051 if k == "score" else 1e-9), (k, row, exp)
    assert any(r["score"] > 0 for r in rows) and any(r["n_errors"] for r in rows)
    # the two judges disagree somewhere, and the mart says so
    assert any(r["mean_axis_judge_abs_disagreement"] > 0 for r in rows)
