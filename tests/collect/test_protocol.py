"""The v3 measurement protocol of `psw collect`, against the loopback server (fakeserver.py):
both A/B orders, the control and engineered arms, prompt sets, several generators, cost and
the dry-run estimate."""

from __future__ import annotations

import json
import re

import pytest

from collect_helpers import SECRET, collect_args, q, run_cli, write_candidates
from fakeserver import FakeLLM, FakeServer, criterion_of, default_judge_object, default_responder, is_generation

AXIS = ("positive_axis_forward", "positive_axis_reverse", "negative_axis_forward", "negative_axis_reverse")


def slot_text(prompt: str, slot: str) -> str:
    return re.search(rf"Response {slot}:\n<<<\n(.*?)\n>>>", prompt, re.S).group(1)


def order_revealing(body):
    """Axis judge: 4.0 when Response A is the positive completion (its prompt names an
    'alpha' persona), 2.0 when it is the negative one; so the stored ratings show the order."""
    if criterion_of(body) != "axis":
        return default_responder(body)
    a_is_pos = "alpha" in slot_text(body["messages"][0]["content"], "A")
    return json.dumps({"target_reason": "order", "A_more_target_than_B": 4.0 if a_is_pos else 2.0})


@pytest.fixture
def server():
    srv = FakeServer(FakeLLM(order_revealing)).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_axis_questions_are_asked_in_both_orders_with_a_and_b_swapped(tmp_path, server, secret):
    files = write_candidates(tmp_path / "cand", 1, 2, 2)
    db = tmp_path / "w.duckdb"
    assert run_cli(collect_args(db, server.base_url, files)) == 0
    axis_bodies = [b for b in server.llm.bodies if criterion_of(b) == "axis"]
    assert len(axis_bodies) == files["n"] * 4
    rows = q(db, "select p.pair_id, p.pos_label, j.criterion, (j.output->>'A_more_target_than_B')::double "
                 "from raw.judgments j join raw.pairs p using (pair_id) where j.criterion like '%axis%'")
    assert {r[2] for r in rows} == set(AXIS) and len(rows) == files["n"] * 4
    for pair, pos_label, criterion, rating in rows:
        # forward: Response A is the A-labelled text; reverse: the same question, texts swapped.
        # pos_label is the forward order's label in every row.
        pos_in_a = (pos_label == "A") == criterion.endswith("_forward")
        assert rating == (4.0 if pos_in_a else 2.0), (pair, pos_label, criterion, rating)
    assert {r[1] for r in rows} == {"A", "B"}
    # each forward prompt has a reverse twin with the two texts swapped, nothing else changed
    prompts = {b["messages"][0]["content"] for b in axis_bodies}
    for prompt in prompts:
        a, b = slot_text(prompt, "A"), slot_text(prompt, "B")
        swapped = prompt.replace(a, "\x00").replace(b, a).replace("\x00", b)
        assert swapped in prompts and swapped != prompt


def test_one_order_asks_forward_only(tmp_path, server, secret):
    files = write_candidates(tmp_path / "cand", 1, 1, 2)
    db = tmp_path / "w.duckdb"
    assert run_cli(collect_args(db, server.base_url, files, "--judge-orders", "1")) == 0
    assert q(db, "select criterion, count(*) from raw.judgments group by 1 order by 1") == [
        ("confound", 2), ("negative_axis_forward", 2), ("positive_axis_forward", 2), ("style", 2)]
    assert server.llm.requests == 2 * (2 + 4)
    (params,) = q(db, "select params->>'judge_orders' from raw.measurements")[0]
    assert params == "1"


def test_style_judge_rates_style_and_confound_once(tmp_path, server, secret):
    files = write_candidates(tmp_path / "cand", 1, 1, 1)
    db = tmp_path / "w.duckdb"
    argv = collect_args(db, server.base_url, files, "--style-judge", "judge/style",
                        judges=("judge/one", "judge/two"))
    assert run_cli(argv) == 0
    assert q(db, "select judge_model, list(criterion order by criterion) from raw.judgments group by 1 order by 1") == [
        ("judge/one", sorted(AXIS)), ("judge/style", ["confound", "style"]), ("judge/two", sorted(AXIS))]
    style, confound = (json.loads(o) for (o,) in q(
        db, "select output from raw.judgments where criterion in ('style', 'confound') order by criterion desc"))
    assert len([k for k in style if k.endswith("_A")]) == 20 + 2          # 20 dims + 2 flags
    assert len([k for k in confound if k.endswith("_likert")]) == 21 + 1  # 21 categories + overall


def write_engineered(d, with_long=True):
    files = write_candidates(d, 1, 2, 2)
    pairs = [json.loads(line) for line in files["pairs"].read_text().splitlines()]
    for p in pairs:
        if with_long or p["id"] == "pp0":
            p["pos_persona"] = f"A long description of someone {p['pos']} in every way."
            p["neg_persona"] = f"A long description of someone {p['neg']} in every way."
    files["pairs"].write_text("".join(json.dumps(p) + "\n" for p in pairs))
    files["templates"].write_text("You are a {persona} person, variant 0.\n__verbatim_skill_persona__\n")
    return files


def test_control_and_engineered_arms(tmp_path, server, secret):
    files = write_engineered(tmp_path / "cand")
    db = tmp_path / "w.duckdb"
    assert run_cli(collect_args(db, server.base_url, files, "--control")) == 0
    rows = q(db, "select template_text, persona_pair_id, pos_persona, neg_persona, pos_response = neg_response, "
                 "pos_messages->0->>'content', neg_messages->0->>'content', prompt_set from raw.pairs")
    assert len(rows) == 3 * 2 * 2
    by_template = {}
    for r in rows:
        by_template.setdefault(r[0], []).append(r)
    control = by_template[""]
    assert len(control) == 4
    for _, _, pos_persona, neg_persona, same, pos_msg, neg_msg, prompt_set in control:
        # no persona text: the same prompt for both poles, generated once and used for both
        assert pos_persona == neg_persona == "" and same and pos_msg == neg_msg
        assert pos_msg.startswith("Scenario:\n") and prompt_set == "user_turn"
    control_prompts = {r[5] for r in control}
    generations = [b for b in server.llm.bodies if is_generation(b)]
    assert sum(b["messages"][0]["content"] in control_prompts for b in generations) == 2  # one per scenario
    for _, pp, pos_persona, neg_persona, same, pos_msg, neg_msg, _ in by_template["__verbatim_skill_persona__"]:
        n = pp[-1]
        assert pos_persona == f"A long description of someone alpha{n}-kind in every way."
        assert neg_persona == f"A long description of someone omega{n}-cold in every way."
        assert pos_msg.startswith(pos_persona + "\n\nScenario:\n") and neg_msg.startswith(neg_persona)
    # every arm is judged with the full protocol
    assert q(db, "select count(*) from raw.judgments")[0][0] == 12 * 6


def test_engineered_template_without_long_descriptors_is_bad_input(tmp_path, server, secret, capfd):
    files = write_engineered(tmp_path / "cand", with_long=False)
    db = tmp_path / "w.duckdb"
    assert run_cli(collect_args(db, server.base_url, files)) == 2
    err = capfd.readouterr().err
    assert "pairs.jsonl:2: persona pair 'pp1' has no 'pos_persona'" in err
    assert server.llm.requests == 0  # nothing called, nothing written (the candidates were checked)
    assert not db.exists()


def test_self_contained_scenarios_and_the_system_prompt_set(tmp_path, server, secret):
    files = write_candidates(tmp_path / "cand", 1, 1, 2)
    files["scenarios"].write_text(
        '{"id": "sc0", "prompt": "Situation number 0: what do you do?"}\n'
        '{"id": "sc1", "prompt": "Situation number 1. What does the actor do next? Answer in one sentence.",'
        ' "self_contained": true}\n')
    db = tmp_path / "w.duckdb"
    assert run_cli(collect_args(db, server.base_url, files, "--prompt-set", "system")) == 0
    rows = dict(q(db, "select scenario_id, pos_messages from raw.pairs"))
    plain, contained = json.loads(rows["sc0"]), json.loads(rows["sc1"])
    assert plain[0] == {"role": "system", "content": "You are a alpha0-kind person, variant 0."}
    assert "Answer in 80-140 words" in plain[1]["content"]
    assert "80-140" not in contained[1]["content"] and "Answer in one sentence." in contained[1]["content"]
    assert q(db, "select distinct prompt_set, pos_prompt = pos_messages->1->>'content' from raw.pairs") == [
        ("system", True)]
    sent = [b["messages"] for b in server.llm.bodies if is_generation(b)]
    assert any(m == plain for m in sent) and all(m[0]["role"] == "system" for m in sent)


def test_unknown_prompt_set_is_bad_input(tmp_path, server, secret, capfd):
    files = write_candidates(tmp_path / "cand", 1, 1, 1)
    assert run_cli(collect_args(tmp_path / "w.duckdb", server.base_url, files, "--prompt-set", "x")) == 2
    assert "unknown prompt set 'x'" in capfd.readouterr().err


def test_each_generator_is_its_own_measurement(tmp_path, server, secret):
    files = write_candidates(tmp_path / "cand", 1, 2, 2)
    db = tmp_path / "w.duckdb"
    argv = collect_args(db, server.base_url, files, "--generator", "gen/other", "--measurement", "sweep")
    assert run_cli(argv) == 0
    assert q(db, "select measurement_id, generator_model from raw.measurements order by 1") == [
        ("sweep/gen/model", "gen/model"), ("sweep/gen/other", "gen/other")]
    assert q(db, "select measurement_id, generator_model, count(*) from raw.pairs group by all order by 1") == [
        ("sweep/gen/model", "gen/model", 4), ("sweep/gen/other", "gen/other", 4)]
    models = sorted({b["model"] for b in server.llm.bodies if is_generation(b)})
    assert models == ["gen/model", "gen/other"]
    assert q(db, "select count(distinct pair_id) from raw.pairs")[0][0] == 8
    assert q(db, "select count(*) from raw.judgments")[0][0] == 8 * 6


def test_cost_and_tokens_are_the_servers_usage_attributed_to_pairs(tmp_path, server, secret):
    files = write_candidates(tmp_path / "cand", 1, 2, 2)
    db = tmp_path / "w.duckdb"
    assert run_cli(collect_args(db, server.base_url, files, "--control")) == 0
    reported = server.llm.reported
    assert q(db, "select sum(prompt_tokens), sum(completion_tokens), round(sum(cost), 8) from raw.api_calls") == [
        (reported["prompt_tokens"], reported["completion_tokens"], round(reported["cost"], 8))]
    # every paid call names its pair and what it was for
    assert q(db, "select count(*) from raw.api_calls where pair_id is null or purpose is null")[0][0] == 0
    purposes = {p for (p,) in q(db, "select distinct purpose from raw.api_calls")}
    assert purposes == {"generation", "generation_pos", "generation_neg", "style", "confound", *AXIS}
    assert q(db, "select count(*) from raw.api_calls a left join raw.pairs p using (pair_id, measurement_id) "
                 "where p.pair_id is null")[0][0] == 0


def test_dry_run_estimates_calls_and_tokens(tmp_path, server, secret, capfd):
    files = write_candidates(tmp_path / "cand", 2, 2, 2)
    db = tmp_path / "w.duckdb"
    argv = collect_args(db, server.base_url, files, judges=("judge/one", "openai/gpt-4o-mini"))
    assert run_cli([*argv, "--dry-run", "--plan-out", str(tmp_path / "plan.jsonl")]) == 0
    first = capfd.readouterr().err
    assert server.llm.requests == 0  # nothing called, nothing written (the candidates were checked)
    assert not db.exists()
    calls = int(re.search(r"estimate: 8 pairs, (\d+) calls", first).group(1))
    assert calls == 8 * (2 + 4 + 4 + 2)
    assert re.search(r"openai/gpt-4o-mini: 32 calls, .* ~\$\d", first)
    assert "gen/model: 16 calls" in first and "no price" in first

    assert run_cli(argv) == 0
    assert server.llm.requests == calls
    capfd.readouterr()
    # with the run's own completion lengths seen, the prompt-token estimate is close
    assert run_cli([*argv, "--dry-run", "--plan-out", str(tmp_path / "plan.jsonl")]) == 0
    second = capfd.readouterr().err
    estimated = int(re.search(r"~([\d,]+) prompt", second).group(1).replace(",", ""))
    actual = q(db, "select sum(prompt_tokens) from raw.api_calls")[0][0]
    assert abs(estimated - actual) / actual < 0.1, (estimated, actual)


def test_help_names_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        run_cli(["collect", "--help"])
    out = capsys.readouterr().out
    for line in ("0  every planned pair", "1  some pairs failed", "2  bad input", "3  nothing succeeded"):
        assert line in out


def test_judge_replies_keep_the_reason_first_and_floats(tmp_path, server, secret):
    """The stored objects are the validated replies: floats stay floats."""
    files = write_candidates(tmp_path / "cand", 1, 1, 1)
    db = tmp_path / "w.duckdb"
    assert run_cli(collect_args(db, server.base_url, files)) == 0
    (confound,) = q(db, "select output from raw.judgments where criterion = 'confound'")[0]
    assert json.loads(confound) == default_judge_object("confound")
    assert SECRET not in confound
