"""Judge-reply parsing/validation and planning: no server, no warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakeserver import default_judge_object
from collect import plan as P
from collect.client import cache_key
from collect.judges import JudgeOutputError, Prompts, extract_json, parse_reply
from warehouse.errors import UserError

AXIS = default_judge_object("axis")   # the v3 shapes
STYLE = default_judge_object("style")
CONFOUND = default_judge_object("confound")


@pytest.mark.parametrize("text", [
    json.dumps(AXIS),
    "```json\n" + json.dumps(AXIS) + "\n```",
    "Sure! Here is my assessment.\n```\n" + json.dumps(AXIS) + "\n```\nLet me know.",
    "My verdict {not json} then " + json.dumps(AXIS) + " and that's all.",
])
def test_extract_json_accepts_fenced_and_chatty(text):
    assert parse_reply("positive_axis_forward", text) == AXIS


@pytest.mark.parametrize("criterion,obj,reason", [
    ("positive_axis_forward", {**AXIS, "A_more_target_than_B": 5.1}, "A_more_target_than_B=5.1 out of range 1.0-5.0"),
    ("negative_axis_reverse", {**AXIS, "A_more_target_than_B": 0.9}, "out of range 1.0-5.0"),
    ("positive_axis_reverse", {**AXIS, "A_more_target_than_B": 3.25}, "3.25 is not in steps of 0.1"),
    ("positive_axis_forward", {k: v for k, v in AXIS.items() if k != "target_reason"}, "missing keys: target_reason"),
    ("positive_axis_forward", {**AXIS, "A_more_target_than_B": True}, "is not a number"),
    ("positive_axis_forward", {**AXIS, "A_more_target_than_B": "high"}, "is not a number"),
    ("style", {**STYLE, "warmth_B": 7.2}, "warmth_B=7.2 out of range 1.0-7.0"),
    ("style", {**STYLE, "incoherence_A": 0.5}, "incoherence_A=0.5 out of range 1.0-7.0"),
    ("style", {k: v for k, v in STYLE.items() if k != "sycophancy_B"}, "missing keys: sycophancy_B"),
    ("style", {**STYLE, "persona_echo_A": "maybe"}, "is not a boolean"),
    ("confound", {**CONFOUND, "off_axis_problem_likert": 9}, "out of range 1.0-7.0"),
    ("confound", {**CONFOUND, "persona_echo_likert": 7.5}, "persona_echo_likert=7.5 out of range 1.0-7.0"),
    ("confound", {k: v for k, v in CONFOUND.items() if k != "praise_flattery_likert"},
     "missing keys: praise_flattery_likert"),
    ("confound", {**CONFOUND, "usable_for_training": None}, "is not a boolean"),
])
def test_validation_rejects_with_reason(criterion, obj, reason):
    with pytest.raises(JudgeOutputError, match=reason.replace("(", r"\(")):
        parse_reply(criterion, json.dumps(obj))


def test_every_panel_dimension_is_parsed_and_range_checked():
    """All 20 style dims and 21 off-axis categories of the seed table, each value checked."""
    from warehouse.judge_schema import panel
    assert len(panel("style")) == 20 and len(panel("off_axis")) == 21
    style = {**STYLE, **{f"{d}_{side}": 1.0 + (k % 61) / 10 for k, d in enumerate(panel("style"))
                         for side in "AB"}}
    assert parse_reply("style", json.dumps(style)) == style
    confound = {**CONFOUND, **{f"{c}_likert": 7.0 - k / 10 for k, c in enumerate(panel("off_axis"))}}
    assert parse_reply("confound", json.dumps(confound)) == confound
    for dim in panel("style"):
        with pytest.raises(JudgeOutputError, match=f"{dim}_B=8"):
            parse_reply("style", json.dumps({**style, f"{dim}_B": 8}))
    for category in panel("off_axis"):
        with pytest.raises(JudgeOutputError, match=f"{category}_likert=0"):
            parse_reply("confound", json.dumps({**confound, f"{category}_likert": 0}))


def test_validation_coerces_harmless_forms_and_drops_extra_keys():
    obj = {**CONFOUND, "off_axis_problem_likert": "3.5", "usable_for_training": "false", "x": 1}
    out = parse_reply("confound", json.dumps(obj))
    assert out["off_axis_problem_likert"] == 3.5 and out["usable_for_training"] is False
    assert "x" not in out
    assert parse_reply("positive_axis_forward", json.dumps({**AXIS, "A_more_target_than_B": 4}))[
        "A_more_target_than_B"] == 4


def test_stored_objects_pass_the_same_v3_checks():
    """ingest's `problem` and collect's validation agree on the v3 shapes."""
    from warehouse.judge_schema import problem
    assert problem("positive_axis_reverse", AXIS) is None
    assert problem("style", STYLE, "v3") is None and problem("confound", CONFOUND, "v3") is None
    assert "steps of 0.1" in problem("negative_axis_forward", {**AXIS, "A_more_target_than_B": 2.55})
    assert "out of range" in problem("confound", {**CONFOUND, "refusal_likert": 7.01}, "v3")
    assert "missing required field length_likert" in problem(
        "confound", {k: v for k, v in CONFOUND.items() if k != "length_likert"}, "v3")
    # the pilot shapes stay readable
    assert problem("style", {"warmth_A": 4, "warmth_B": 5, "persona_echo_A": False, "persona_echo_B": False,
                             "refusal_or_ai_break_A": False, "refusal_or_ai_break_B": False}) is None
    assert problem("confound", {"off_axis_problem_likert": 2, "likely_spurious_axis": "none",
                                "usable_for_training": True}) is None


@pytest.mark.parametrize("text", [None, "", "   ", "I cannot rate this.", "[1, 2, 3]"])
def test_extract_json_rejects_non_objects(text):
    with pytest.raises(JudgeOutputError):
        extract_json(text)


def test_prompts_render_strict_and_hash_files():
    prompts = Prompts.load()
    assert len(prompts.hash("style")) == 16
    assert prompts.hash("axis") != prompts.hash("style")
    text = prompts.render("style", scenario="S", response_a="RA", response_b="RB",
                          dims={"verbosity": "longer", "formality": "register"})
    assert '"verbosity_A", "verbosity_B"' in text and "RA" in text and "- formality: register" in text
    import jinja2
    with pytest.raises(jinja2.UndefinedError):
        prompts.render("confound", scenario="S", response_a="A", response_b="B")


def test_generation_layouts():
    """user_turn (upstream): persona + scenario + the 80-140 words instruction in one user
    message; system: the persona as a system message; self-contained scenarios get no second
    question or length; the control arm (no persona) sends no persona text at all."""
    user_turn = Prompts.load(layout="user_turn")
    assert user_turn.generation_messages("Be kind.", "S?", False) == [{"role": "user", "content":
        "Be kind.\n\nScenario:\nS?\n\nWhat do you do? Answer in 80-140 words. Output only the answer."}]
    (msg,) = user_turn.generation_messages("Be kind.", "S? Answer in one sentence.", True)
    assert msg["content"] == ("Be kind.\n\nS? Answer in one sentence.\n\nDo not mention the persona "
                              "instruction or label yourself as the persona. Output only the answer.")
    assert "80-140" not in msg["content"]
    (control,) = user_turn.generation_messages("", "S?", False)
    assert control["content"].startswith("Scenario:\nS?")
    system = Prompts.load(layout="system")
    assert system.generation_messages("Be kind.", "S?", False) == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Scenario:\nS?\n\nWhat do you do? Answer in 80-140 words. "
                                    "Output only the answer."}]
    assert [m["role"] for m in system.generation_messages("", "S?", False)] == ["user"]
    assert user_turn.generation_hash() != system.generation_hash()
    with pytest.raises(UserError, match="unknown prompt set 'nope'.*system, user_turn"):
        Prompts.load(layout="nope")


def test_pos_label_reproducible_and_mixed():
    labels = [P.pos_label_for(23, "pp", "You are a {persona} person.", f"s{i}") for i in range(40)]
    assert labels == [P.pos_label_for(23, "pp", "You are a {persona} person.", f"s{i}")
                      for i in range(40)]
    assert set(labels) == {"A", "B"}
    other = [P.pos_label_for(24, "pp", "You are a {persona} person.", f"s{i}") for i in range(40)]
    assert other != labels


def test_sampling_is_seeded_and_extends():
    scen = [P.Scenario(f"s{i}", f"text {i}") for i in range(12)]
    four = P.sample_scenarios(scen, 4, 23)
    assert four == P.sample_scenarios(scen, 4, 23)
    assert set(four) <= set(P.sample_scenarios(scen, 8, 23))
    assert P.sample_scenarios(scen, 4, 24) != four
    assert P.sample_scenarios(scen, None, 23) == scen
    # rows number the shuffle (upstream's `row`): a larger n keeps every row number
    rows4, rows8 = P.sample_rows(scen, 4, 23), P.sample_rows(scen, 8, 23)
    assert sorted(r for r, _ in rows4) == [1, 2, 3, 4] and set(rows4) <= set(rows8)


def test_templates_fill_only_the_persona_slot():
    with pytest.raises(UserError, match=r"t:3: template slot 'mood' is undefined"):
        P.make_template("Act as {persona} with {mood}.", "t:3")
    with pytest.raises(UserError, match=r"t:1: template has no \{persona\} slot"):
        P.make_template("No slot here.", "t:1")
    tpl = P.make_template("You are a {persona} person.", "t:1")
    assert tpl.jinja == "You are a {{ persona }} person."
    assert P.render_template(tpl, "kind") == "You are a kind person."


def dry_run(tmp_path, capfd, *files):
    from psw.cli import main

    capfd.readouterr()
    rc = main(["--db", str(tmp_path / "w.duckdb"), "collect", "--pairs", str(files[0]), "--templates", str(files[1]),
               "--scenarios", str(files[2]), "--generator", "g1", "--generator", "g2", "--judge", "j",
               "--n", "4", "--dry-run", "--plan-out", str(tmp_path / "plan.jsonl")])
    return rc, capfd.readouterr().err


def test_candidate_files_pass_ingests_checks_with_file_and_line(tmp_path, capfd):
    """collect reads candidate files through `psw ingest` (one validator): a bad line is named."""
    ref = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "pilot-v2-seed23"
    pairs, templates, scenarios = (ref / "persona_pairs_v2_candidates.jsonl", ref / "templates_v2_candidates.txt",
                                   ref / "scenarios_v2_candidates.jsonl")
    bad_pairs = tmp_path / "pairs.jsonl"
    bad_pairs.write_text(pairs.read_text().splitlines()[0] + '\n{"id": "b", "pos": "x"\n')
    rc, err = dry_run(tmp_path, capfd, bad_pairs, templates, scenarios)
    assert rc == 2 and f"{bad_pairs}:2: invalid JSON" in err
    bad_scenarios = tmp_path / "sc.jsonl"
    bad_scenarios.write_text('{"id": "s1", "question": "Q?"}\n{"id": "s2"}\n')
    rc, err = dry_run(tmp_path, capfd, pairs, templates, bad_scenarios)
    assert rc == 2 and f"{bad_scenarios}:2: missing required field prompt" in err
    bad_templates = tmp_path / "t.txt"
    bad_templates.write_text("You are a {persona} person.\n\nAct as {persona} with {mood}.\n")
    rc, err = dry_run(tmp_path, capfd, pairs, bad_templates, scenarios)
    assert rc == 2 and f"{bad_templates}:3: template slot {{mood}} is not filled" in err


def test_real_seed_candidates_plan(tmp_path, capfd):
    ref = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "pilot-v2-seed23"
    rc, err = dry_run(tmp_path, capfd, ref / "persona_pairs_v2_candidates.jsonl", ref / "templates_v2_candidates.txt",
                      ref / "scenarios_v2_candidates.jsonl")
    assert rc == 0, err
    plan = [json.loads(line) for line in (tmp_path / "plan.jsonl").read_text().splitlines()]
    assert len(plan) == 2 * 12 * 16 * 4
    assert len({p["pair_id"] for p in plan}) == len(plan)
    assert {p["measurement_id"].rsplit("/", 1)[1] for p in plan} == {"g1", "g2"}


def test_cache_key_covers_url_model_messages_params():
    m = [{"role": "user", "content": "hi"}]
    base = cache_key("http://x/v1", "m", m, {"temperature": 0})
    assert base == cache_key("http://x/v1/", "m", m, {"temperature": 0})
    assert base != cache_key("http://y/v1", "m", m, {"temperature": 0})
    assert base != cache_key("http://x/v1", "m2", m, {"temperature": 0})
    assert base != cache_key("http://x/v1", "m", m, {"temperature": 0.5})
    assert base != cache_key("http://x/v1", "m", [{"role": "user", "content": "ho"}], {"temperature": 0})


def test_judge_prompt_set_hash_changes_with_any_judge_prompt(tmp_path):
    import shutil
    from collect.judges import PROMPTS_DIR
    shutil.copytree(PROMPTS_DIR, tmp_path / "p")
    base = Prompts.load(tmp_path / "p").judge_set_hash()
    (tmp_path / "p" / "judge_style.j2").write_text("changed {{ scenario }}")
    assert Prompts.load(tmp_path / "p").judge_set_hash() != base
    changed = Prompts.load(tmp_path / "p")
    (tmp_path / "p" / "layouts" / "user_turn" / "user.j2").write_text("changed {{ scenario }}")
    assert Prompts.load(tmp_path / "p").judge_set_hash() == changed.judge_set_hash()
    assert Prompts.load(tmp_path / "p").generation_hash() != changed.generation_hash()
    assert len(base) == 16
