"""Judge-reply parsing/validation and planning: no server, no warehouse."""

from __future__ import annotations

import json

import pytest

from fakeserver import default_judge_object
from collect import plan as P
from collect.client import cache_key
from collect.judges import JudgeOutputError, Prompts, extract_json, parse_reply
from warehouse.errors import UserError

AXIS = default_judge_object("axis")
STYLE = default_judge_object("style")
CONFOUND = default_judge_object("confound")


@pytest.mark.parametrize("text", [
    json.dumps(AXIS),
    "```json\n" + json.dumps(AXIS) + "\n```",
    "Sure! Here is my assessment.\n```\n" + json.dumps(AXIS) + "\n```\nLet me know.",
    "My verdict {not json} then " + json.dumps(AXIS) + " and that's all.",
])
def test_extract_json_accepts_fenced_and_chatty(text):
    assert parse_reply("positive_axis", text) == AXIS


@pytest.mark.parametrize("criterion,obj,reason", [
    ("positive_axis", {**AXIS, "target_score_A": 6}, "target_score_A=6 out of range 1-5"),
    ("negative_axis", {**AXIS, "A_more_target_than_B": 0}, "out of range 1-5"),
    ("positive_axis", {k: v for k, v in AXIS.items() if k != "target_reason"}, "missing keys: target_reason"),
    ("positive_axis", {**AXIS, "target_score_B": True}, "is not an integer"),
    ("positive_axis", {**AXIS, "target_score_B": 2.5}, "is not an integer"),
    ("style", {**STYLE, "warmth_B": 8}, "warmth_B=8 out of range 1-7"),
    ("style", {**STYLE, "persona_echo_A": "maybe"}, "is not a boolean"),
    ("confound", {**CONFOUND, "off_axis_problem_likert": 9}, "out of range 1-7"),
    ("confound", {**CONFOUND, "usable_for_training": None}, "is not a boolean"),
])
def test_validation_rejects_with_reason(criterion, obj, reason):
    with pytest.raises(JudgeOutputError, match=reason.replace("(", r"\(")):
        parse_reply(criterion, json.dumps(obj))


def test_validation_coerces_harmless_forms_and_drops_extra_keys():
    obj = {**CONFOUND, "off_axis_problem_likert": 3.0, "usable_for_training": "false", "x": 1}
    out = parse_reply("confound", json.dumps(obj))
    assert out["off_axis_problem_likert"] == 3 and out["usable_for_training"] is False
    assert "x" not in out


@pytest.mark.parametrize("text", [None, "", "   ", "I cannot rate this.", "[1, 2, 3]"])
def test_extract_json_rejects_non_objects(text):
    with pytest.raises(JudgeOutputError):
        extract_json(text)


def test_prompts_render_strict_and_hash_files():
    prompts = Prompts.load()
    assert len(prompts.hash("style")) == 16
    assert prompts.hash("positive_axis") != prompts.hash("style")
    text = prompts.render("style", scenario="S", response_a="RA", response_b="RB",
                          dims=("verbosity", "formality"))
    assert '"verbosity_A", "verbosity_B"' in text and "RA" in text
    import jinja2
    with pytest.raises(jinja2.UndefinedError):
        prompts.render("confound", scenario="S", response_a="A", response_b="B")


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


def test_templates_render_with_strict_undefined(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("You are a {persona} person.\n\nAct as {persona} with {mood}.\n")
    with pytest.raises(UserError, match=r"t.txt:3: template slot 'mood' is undefined"):
        P.load_templates_file(f)
    f.write_text("No slot here.\n")
    with pytest.raises(UserError, match=r"t.txt:1: template has no \{persona\} slot"):
        P.load_templates_file(f)
    f.write_text("You are a {persona} person.\n")
    (tpl,) = P.load_templates_file(f)
    assert tpl.jinja == "You are a {{ persona }} person."
    assert P.render_template(tpl, "kind") == "You are a kind person."


def test_bad_candidate_lines_point_at_file_and_line(tmp_path):
    f = tmp_path / "pairs.jsonl"
    f.write_text('{"id": "a", "pos": "x", "neg": "y", "positive_behavior": "p", '
                 '"negative_behavior": "n"}\n{"id": "b", "pos": "x"\n')
    with pytest.raises(UserError, match=r"pairs.jsonl:2: invalid JSON"):
        P.load_pairs_file(f)
    f.write_text('{"id": "a", "pos": "x", "neg": "y", "positive_behavior": "p"}\n')
    with pytest.raises(UserError, match=r"pairs.jsonl:1: .*'negative_behavior'"):
        P.load_pairs_file(f)
    s = tmp_path / "sc.jsonl"
    s.write_text('{"id": "s1", "question": "Q?"}\n{"id": "s2"}\n')
    with pytest.raises(UserError, match=r"sc.jsonl:2: scenario needs"):
        P.load_scenarios_file(s)


def test_real_seed_candidates_load():
    ref = P.Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "pilot-v2-seed23"
    if not ref.is_dir():
        pytest.skip("shared reference data not present")
    pairs = P.load_pairs_file(ref / "persona_pairs_v2_candidates.jsonl")
    templates = P.load_templates_file(ref / "templates_v2_candidates.txt")
    scenarios = P.load_scenarios_file(ref / "scenarios_v2_candidates.jsonl")
    plan = P.build_plan("m", templates, pairs, P.sample_scenarios(scenarios, 4, 23), 23)
    assert len(plan) == len(templates) * len(pairs) * 4
    assert len({p.pair_id for p in plan}) == len(plan)


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
    (tmp_path / "p" / "generation_user.j2").write_text("changed {{ scenario }}")
    assert len(base) == 16
