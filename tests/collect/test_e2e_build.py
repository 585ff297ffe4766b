"""End to end: collect a grid (two generators x two templates and the control arm x two persona
pairs x two scenarios, two axis judges, both A/B orders) from the fake server, `psw build`, and
check the marts against a by-hand computation from the same ratings.

The fake judges rate by formula from (generator, template, persona pair, scenario, judge) and
answer in the blinded A/B terms of each prompt, with a judge-specific pull towards Response A
(position bias) that the swapped order cancels; the by-hand side applies the v3 protocol
(../notes/v3_protocol.md: per-judge forward/reverse deltas, judges averaged) and then the model
matrix formulas of template_model_scores.

The per-pair v3 derivations (axis delta from the four order-swapped calls, the 20-dim style and
21-category confound panels) are the lead's dbt models; this test is written against that
contract and needs them in the build.
"""

from __future__ import annotations

import json
import math
import re
import statistics

import pytest

from collect_helpers import collect_args, q, write_candidates
from fakeserver import OFF_AXIS, STYLE_DIMS, FakeLLM, FakeServer, criterion_of, is_generation

PRICED_JUDGE = "openai/gpt-4o-mini"   # in dbt/seeds/model_prices.csv; the fake server reports no cost for it
JUDGES = ("judge/alpha", PRICED_JUDGE)
BIAS = {0: 0.0, 1: 0.3}             # each judge's pull towards Response A
GENERATORS = ("gen/a", "gen/b")
TEMPLATES = ("", "You are a {persona} person, variant 0.", "You are a {persona} person, variant 1.")
_TAG = re.compile(r"\(ref (pos|neg|ctl) t(-?\d) p(\d) s(\d) g(\d)\)")


def ratings(g: int, t: int, p: int, s: int, j: int) -> dict:
    """What judge j thinks of pair (generator g, template t, persona pair p, scenario s), in
    pos/neg terms; t = -1 is the control arm (both poles the same text)."""
    if t < 0:
        return {"pos": 3.0, "neg": 3.0, "style_pos": {d: 4.0 for d in STYLE_DIMS},
                "style_neg": {d: 4.0 for d in STYLE_DIMS}, "echo": False, "off": 1.0}
    return {
        "pos": 4.5 - 0.5 * ((t + s + j + g) % 3),    # "pos beats neg" on the positive target
        "neg": 1.5 + 0.5 * ((p + s + g) % 2),        # "pos beats neg" on the negative target
        "style_pos": {d: 4.0 + 1.5 * ((t + p + s + k + g) % 3) for k, d in enumerate(STYLE_DIMS)},
        "style_neg": {d: 4.0 for d in STYLE_DIMS},
        "echo": (g, t, p, s) == (1, 1, 1, 1),
        "off": 1.0 + 0.5 * ((2 * t + p + s + g) % 4),
    }


def generation_fails(g, t, p, s):
    return (g, t, p, s) == (0, 0, 1, 0)


def axis_reply(r_pos_beats_neg: float, a_is_pos: bool | None, j: int) -> float:
    """The judge's A_more_target_than_B: the rating seen from slot A, pulled towards A."""
    base = 3.0 if a_is_pos is None else (r_pos_beats_neg if a_is_pos else 6.0 - r_pos_beats_neg)
    return round(base + BIAS[j], 1)


def responder(body):
    text = body["messages"][0]["content"]
    if is_generation(body):
        g = GENERATORS.index(body["model"])
        s = int(re.search(r"number (\d)", text).group(1))
        head = text.split("\n\n")[0]
        m = re.match(r"You are a (alpha|omega)(\d)-\w+ person, variant (\d)\.", head)
        if m is None:   # the control arm: no persona text
            return f"(ref ctl t-1 p0 s{s} g{g}) Here is my answer to situation {s}."
        pole, p, t = m.group(1), int(m.group(2)), int(m.group(3))
        if pole == "omega" and generation_fails(g, t, p, s):
            return ""
        return f"(ref {'pos' if pole == 'alpha' else 'neg'} t{t} p{p} s{s} g{g}) My answer to situation {s}."
    (pole_a, t, p, s, g), (pole_b, *_) = [(m.group(1), *map(int, m.groups()[1:])) for m in _TAG.finditer(text)][:2]
    j = JUDGES.index(body["model"]) if body["model"] in JUDGES else 0
    r = ratings(g, t, p, s, j)
    a_is_pos = None if pole_a == "ctl" else pole_a == "pos"
    crit = criterion_of(body)

    def ab(pos_val, neg_val):
        return (pos_val, neg_val) if a_is_pos in (True, None) else (neg_val, pos_val)

    if crit == "axis":
        positive = "helps people" in text.split("Target behavior:")[1].split("Response A:")[0]
        obj = {"target_reason": "by formula",
               "A_more_target_than_B": axis_reply(r["pos" if positive else "neg"], a_is_pos, j)}
    elif crit == "style":
        obj = {"style_reason": "by formula"}
        for d in STYLE_DIMS:
            obj[f"{d}_A"], obj[f"{d}_B"] = ab(r["style_pos"][d], r["style_neg"][d])
        obj["persona_echo_A"], obj["persona_echo_B"] = ab(r["echo"], False)
        obj.update(refusal_or_ai_break_A=False, refusal_or_ai_break_B=False)
    else:
        obj = {"confound_reason": "by formula", **{f"{c}_likert": r["off"] for c in OFF_AXIS},
               "off_axis_problem_likert": r["off"], "likely_spurious_axis": "none",
               "usable_for_training": r["off"] <= 2}
    return "```json\n" + json.dumps(obj) + "\n```"


def judge_axis_delta(r: dict, pos_label: str, j: int, control: bool) -> float:
    """The v3 formulas, applied to the replies the fake judge gives in each order."""
    def signed(x):
        return x - 3.0

    deltas = {}
    for target in ("pos", "neg"):
        # forward: A shows the A-labelled text; reverse: the texts swapped
        fwd = axis_reply(r[target], None if control else pos_label == "A", j)
        rev = axis_reply(r[target], None if control else pos_label == "B", j)
        f = signed(fwd) if pos_label == "A" else -signed(fwd)
        v = signed(rev) if pos_label == "B" else -signed(rev)
        deltas[target] = (f, v) if target == "pos" else (-f, -v)
    pairwise_pos = sum(deltas["pos"]) / 2
    pairwise_neg = sum(deltas["neg"]) / 2
    return 2 * (pairwise_pos + pairwise_neg)


def expected_cells(pos_labels: dict) -> dict:
    """(generator, template, persona pair) -> the cell's metrics, by hand."""
    cells = {}
    for g, gen in enumerate(GENERATORS):
        for t_text in TEMPLATES:
            t = TEMPLATES.index(t_text) - 1
            for p in range(2):
                pairs, errors = [], 0
                for s in range(2):
                    if t >= 0 and generation_fails(g, t, p, s):
                        errors += 1
                        continue
                    label = pos_labels[(gen, t_text, f"pp{p}", f"sc{s}")]
                    axis = [judge_axis_delta(ratings(g, t, p, s, j), label, j, t < 0) for j in range(2)]
                    r = ratings(g, t, p, s, 0)           # style and confound: the first judge
                    style = max(abs(r["style_pos"][d] - r["style_neg"][d]) for d in STYLE_DIMS)
                    pair = {"axis": sum(axis) / 2, "judge_std": statistics.pstdev(axis), "off": r["off"],
                            "style": style, "echo": r["echo"], "usable": r["off"] <= 2}
                    pair["strict"] = (pair["axis"] >= 3 and pair["off"] <= 2 and pair["usable"]
                                      and pair["style"] <= 2 and not pair["echo"])
                    pairs.append(pair)

                def mean(k):
                    return sum(float(x[k]) for x in pairs) / len(pairs)

                cells[(gen, t_text, f"pp{p}")] = {
                    "n_success": len(pairs), "n_errors": errors, "strict_pass_rate": mean("strict"),
                    "mean_axis_delta": mean("axis"), "mean_off_axis_problem": mean("off"),
                    "mean_max_style_abs_delta": mean("style"), "persona_echo_rate": mean("echo"),
                    "refusal_or_ai_break_rate": 0.0, "mean_axis_delta_judge_std": mean("judge_std")}
    return cells


def clamp(x):
    return max(0.0, min(1.0, x))


def model_score(cell: dict) -> float:
    return 100 * clamp(cell["mean_axis_delta"] / 8) * (1 - clamp((cell["mean_off_axis_problem"] - 1) / 6))


METRICS = {"strict_pass_rate": "strict_pass_rate", "axis_delta": "mean_axis_delta",
           "off_axis_problem": "mean_off_axis_problem", "judge_std": "mean_axis_delta_judge_std",
           "style_delta": "mean_max_style_abs_delta", "persona_echo_rate": "persona_echo_rate",
           "refusal_or_ai_break_rate": "refusal_or_ai_break_rate"}


def across_models(rows: list[dict]) -> dict:
    """Upstream's summary over models: mean, sample std (0 for one), inclusive p25, t."""
    scores = [r["score"] for r in rows]
    k, mean = len(scores), statistics.fmean(scores)
    std = statistics.stdev(scores) if k > 1 else 0.0
    se = std / math.sqrt(k)
    if se:
        t_stat = mean / se
    else:   # 0 when mean and std are both 0; undefined (null) when only the std is
        t_stat = 0.0 if mean == 0 else None
    out = {"model_count": k, "score_mean": mean, "score_std": std, "score_t": t_stat,
           "score_p25": statistics.quantiles(scores, n=4, method="inclusive")[0] if k > 1 else scores[0]}
    for name, column in METRICS.items():
        values = [r[column] for r in rows]
        out[f"{name}_mean"] = statistics.fmean(values)
        out[f"{name}_std"] = statistics.stdev(values) if k > 1 else 0.0
    return out


def expected_model_matrix(cells: dict) -> tuple[dict, dict]:
    by_template, by_cell = {}, {}
    for (gen, t_text, pp), cell in cells.items():
        by_cell.setdefault((t_text, pp), []).append({**cell, "score": model_score(cell)})
        by_template.setdefault(t_text, {}).setdefault(gen, []).append({**cell, "score": model_score(cell)})
    templates = {}
    for t_text, per_model in by_template.items():
        rows = [{"score": statistics.fmean(c["score"] for c in cs),
                 **{col: statistics.fmean(c[col] for c in cs) for col in METRICS.values()}}
                for cs in per_model.values()]
        templates[t_text] = across_models(rows)
    return templates, {key: across_models(rows) for key, rows in by_cell.items()}


def assert_row(row: dict, expected: dict, what):
    for key, value in expected.items():
        if value is None:
            assert row[key] is None, (what, key, row[key])
        else:
            assert row[key] == pytest.approx(value, abs=1e-9), (what, key, row[key], value)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The grid collected from the fake server and built: (warehouse, the server's usage)."""
    import contextlib
    import io
    import os
    from collect_helpers import KEY_ENV, SECRET
    from psw.cli import main as psw_main
    os.environ[KEY_ENV] = SECRET
    tmp = tmp_path_factory.mktemp("e2e")
    llm = FakeLLM(responder)
    llm.no_cost_models = {PRICED_JUDGE}   # its cost comes from dbt/seeds/model_prices.csv
    server = FakeServer(llm).start()
    try:
        files = write_candidates(tmp / "cand", 2, 2, 2)
        db = tmp / "w.duckdb"
        argv = collect_args(db, server.base_url, files, "--control", "--measurement", "mm",
                            "--generator", "gen/b", judges=JUDGES)
        argv[argv.index("gen/model")] = "gen/a"
        summary = io.StringIO()
        with contextlib.redirect_stdout(summary):
            assert psw_main(argv) == 1          # one generation fails on purpose
        reported = dict(server.llm.reported, summary=summary.getvalue())
    finally:
        server.stop()
        os.environ.pop(KEY_ENV, None)
    assert psw_main(["--db", str(db), "build"]) == 0
    return db, reported


def test_costs_are_the_servers_usage_per_pair_cell_and_measurement(built):
    db, reported = built
    (tokens, cost), = q(db, "select sum(tokens), sum(cost) from costs where grain = 'measurement'")
    assert tokens == reported["prompt_tokens"] + reported["completion_tokens"]
    # reported cost where the server gave one, else tokens at the seed's price (0.15 / 0.60 per M)
    (priced,) = q(db, f"select sum(prompt_tokens * 0.15 + completion_tokens * 0.60) / 1e6 "
                      f"from raw.api_calls where model = '{PRICED_JUDGE}'")[0]
    assert priced > 0
    assert cost == pytest.approx(reported["cost"] + priced, abs=1e-12)
    # the run summary: the same price table and rule (collect/prices.py), so the same dollars
    said = float(re.search(r"cost: \$([\d.]+)", reported["summary"])[1])
    assert said == pytest.approx(cost, abs=5e-5) and abs(said - reported["cost"]) > 1e-4, reported["summary"]
    for grain in ("cell", "pair"):
        assert q(db, f"select round(sum(cost), 10), sum(tokens), sum(n_unpriced_calls) from costs "
                     f"where grain = '{grain}'") == [(round(reported["cost"] + priced, 10), tokens, 0)]
    assert q(db, "select grain, count(*) from costs group by 1 order by 1") == [
        ("cell", 12), ("measurement", 2), ("pair", 24)]
    # a cell's cost splits into generation and judging, and per pair (a control cell may have no
    # generation cost: its one prompt per scenario was paid for by the other persona pair's cell)
    for n_pairs, cost, gen_cost, judge_cost, per_pair in q(
            db, "select n_pairs, cost, generation_cost, judge_cost, cost_per_pair from costs where grain = 'cell'"):
        assert n_pairs == 2 and per_pair == pytest.approx(cost / 2)
        assert cost == pytest.approx((gen_cost or 0) + (judge_cost or 0))


def test_two_generators_build_the_model_matrix_by_hand(built):
    db, _ = built
    pos_labels = {(g, t, p, s): label for g, t, p, s, label in q(
        db, "select generator_model, template_text, persona_pair_id, scenario_id, pos_label from raw.pairs")}
    cells = expected_cells(pos_labels)
    cols = ["generator_model", "template_text", "persona_pair_id", "measurement_id", *next(iter(cells.values()))]
    rows = [dict(zip(cols, r)) for r in q(db, f"select {', '.join(cols)} from template_pair_scores")]
    assert len(rows) == len(cells) == 12
    for row in rows:
        key = (row["generator_model"], row["template_text"], row["persona_pair_id"])
        assert row["measurement_id"] == f"mm/{row['generator_model']}"
        assert_row(row, cells[key], key)

    templates, pair_cells = expected_model_matrix(cells)
    names = [n for (n,) in q(db, "select column_name from information_schema.columns "
                                 "where table_name = 'template_model_scores' order by ordinal_position")]
    got = [dict(zip(names, r)) for r in q(db, "select * from template_model_scores")]
    assert {r["template_text"] for r in got} == set(TEMPLATES)
    for row in got:
        assert_row(row, templates[row["template_text"]], row["template_text"])
        assert row["models"] == list(GENERATORS)
    assert any(r["score_std"] > 0 for r in got)
    columns = ["model_count", "score_mean", "score_std", "score_p25", "score_t", "axis_delta_mean",
               "off_axis_problem_std", "persona_echo_rate_mean"]
    got = q(db, f"select template_text, persona_pair_id, {', '.join(columns)} from template_pair_model_scores")
    assert len(got) == len(pair_cells) == 6
    for t_text, pp, *values in got:
        exp = pair_cells[(t_text, pp)]
        assert_row(dict(zip(columns, values)), {k: exp[k] for k in columns}, (t_text, pp))
