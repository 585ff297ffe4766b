"""The messages sent for each pole are stored with the pair, reach the `examples` mart, and are
what `psw extract vectors` teacher-forces: a collected pair's vector equals one computed by hand
from the stored messages with plain transformers calls."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "collect"))
from collect_helpers import KEY_ENV, SECRET, collect_args, write_candidates  # noqa: E402
from fakeserver import FakeLLM, FakeServer, is_generation  # noqa: E402

from extract.masks import fit_to_template  # noqa: E402
from psw.cli import main  # noqa: E402
from tests.conftest import copy_warehouse  # noqa: E402
from warehouse.errors import UserError  # noqa: E402
from warehouse.messages import parse_messages  # noqa: E402

LAYER = 1  # not the last layer: transformers applies the final norm to the last hidden_states entry


def rows(db, sql, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def collected_once(built_once):
    """One cell (1 template x 1 persona pair x 3 scenarios) collected from the loopback server and
    built, once for the module; returns (warehouse, the generation requests the server received)."""
    sent = []

    def fill(db):
        with pytest.MonkeyPatch.context() as env:
            env.setenv(KEY_ENV, SECRET)
            files = write_candidates(db.parent / "cand", n_templates=1, n_pairs=1, n_scenarios=3)
            server = FakeServer(FakeLLM()).start()
            try:
                assert main(collect_args(db, server.base_url, files)) == 0
                sent.extend(body["messages"] for body in server.llm.bodies if is_generation(body))
            finally:
                server.stop()
        assert main(["--db", str(db), "build"]) == 0

    return built_once("messages-collected", fill), sent


@pytest.fixture
def collected(collected_once, tmp_path):
    """A writable copy of the collected warehouse, and the requests its collect sent."""
    db, sent = collected_once
    return copy_warehouse(db, tmp_path / "w" / "warehouse.duckdb"), sent


def by_hand_response_mean(model, tokenizer, messages: list[dict], response: str) -> torch.Tensor:
    """Mean of hidden_states[LAYER + 1] over the response tokens of chat_template(messages + response)."""
    def ids(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]
    prompt = ids(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    full = ids(tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": response}],
                                             tokenize=False))
    end_of_turn = ids("<|im_end|>\n")  # what the ChatML template closes the assistant turn with
    assert full[: len(prompt)] == prompt and full[-len(end_of_turn):] == end_of_turn
    with torch.inference_mode():
        hidden = model(input_ids=torch.tensor([full]), output_hidden_states=True).hidden_states
    return hidden[LAYER + 1][0, len(prompt): len(full) - len(end_of_turn)].float().mean(0)


def test_collected_vector_equals_one_computed_by_hand_from_the_sent_messages(collected, tiny_path, capsys):
    db, sent = collected
    examples = rows(db, "select cell_id, pos_messages, neg_messages, pos_response, neg_response, "
                        "template_text, pos_persona, neg_persona, scenario_text from main.examples "
                        "where not is_error order by pair_id")
    assert len(examples) == 3
    # the mart carries exactly the messages the server received for each pole
    stored = [json.loads(r[1]) for r in examples] + [json.loads(r[2]) for r in examples]
    assert sorted(map(json.dumps, stored)) == sorted(map(json.dumps, sent))
    assert all(m[-1]["role"] == "user" for m in stored)  # the default prompt set: persona in the user turn

    capsys.readouterr()
    assert main(["--db", str(db), "extract", "vectors", "--model", tiny_path, "--layers", str(LAYER)]) == 0
    assert "warning" not in capsys.readouterr().err
    (cell_id,) = {r[0] for r in examples}
    vector, params = rows(db, "select v.vector, r.params from raw.activation_vectors as v join raw.activation_runs "
                              "as r using (run_id) where v.cell_id = ? and v.layer = ? and "
                              "v.reduction = 'response_mean'", [cell_id, LAYER])[0]
    assert json.loads(params)["prompts"]["n_reconstructed_prompts"] == 0

    # the model and tokenizer as extract loads them (a saved tokenizer reloads as the model's own class)
    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    model = AutoModelForCausalLM.from_pretrained(tiny_path, dtype=torch.float32).eval()
    diffs = [by_hand_response_mean(model, tokenizer, json.loads(pos_m), pos_r)
             - by_hand_response_mean(model, tokenizer, json.loads(neg_m), neg_r)
             for _, pos_m, neg_m, pos_r, neg_r, *_ in examples]
    expected = torch.stack(diffs).mean(0)
    assert torch.allclose(torch.tensor(vector), expected, atol=1e-5)

    # the prompt rebuilt from template and persona is another prompt: it would give another vector
    rebuilt = torch.stack([
        by_hand_response_mean(model, tokenizer, [{"role": "system", "content": template.replace("{persona}", pos)},
                                                 {"role": "user", "content": scenario}], pos_r)
        - by_hand_response_mean(model, tokenizer, [{"role": "system", "content": template.replace("{persona}", neg)},
                                                   {"role": "user", "content": scenario}], neg_r)
        for _, _, _, pos_r, neg_r, template, pos, neg, scenario in examples]).mean(0)
    assert not torch.allclose(rebuilt, expected, atol=1e-5)


def test_the_messages_survive_an_hf_export_and_import(collected, tmp_path):
    db, _ = collected
    assert main(["--db", str(db), "export-hf", "--out", str(tmp_path / "hf")]) == 0
    fresh = tmp_path / "fresh.duckdb"
    assert main(["--db", str(fresh), "import-hf", str(tmp_path / "hf")]) == 0
    query = "select pair_id, pos_messages::varchar, neg_messages::varchar from raw.pairs order by pair_id"
    original, restored = rows(db, query), rows(fresh, query)
    assert len(original) == 3 and all(r[1] and r[2] for r in original)
    assert [(p, json.loads(a), json.loads(b)) for p, a, b in restored] == \
        [(p, json.loads(a), json.loads(b)) for p, a, b in original]


def test_pairs_without_recorded_messages_are_rebuilt_counted_and_warned(examples_db, tiny_path, capsys):
    capsys.readouterr()
    assert main(["--db", examples_db, "extract", "vectors", "--model", tiny_path, "--layers", "1"]) == 0
    err = capsys.readouterr().err
    assert "warning: 6 of 6 pairs have no recorded generation messages" in err
    (params,) = rows(examples_db, "select params from raw.activation_runs")[0]
    prompts = json.loads(params)["prompts"]
    assert (prompts["n_recorded_prompts"], prompts["n_reconstructed_prompts"]) == (0, 6)
    (provenance,) = rows(examples_db, "select provenance from raw.activation_vectors limit 1")[0]
    assert json.loads(provenance)["prompts"]["n_reconstructed_prompts"] == 6


ARTIFACT_AXIS = {"id": "honest_liar", "pos_descriptor": "honest", "neg_descriptor": "deceitful",
                 "positive_behavior": "tells the truth", "negative_behavior": "lies"}


def artifact_result(row: int, prompts: bool) -> dict:
    axis = {"A_more_target_than_B": 4, "B_more_target_than_A": 2, "target_score_A": 4, "target_score_B": 2,
            "target_reason": "r"}
    style = {f"{d}_{s}": 4 for d in ("verbosity", "confidence", "hedging", "warmth", "enthusiasm", "praise",
                                     "directness", "formality") for s in "AB"}
    style.update(persona_echo_A=False, persona_echo_B=False, refusal_or_ai_break_A=False,
                 refusal_or_ai_break_B=False, style_reason="r")
    result = {"axis": ARTIFACT_AXIS, "template": "You are a {persona} person.", "row": row,
              "prompt": f"Question {row}?", "pos_response": "Truly so.", "neg_response": "Not at all.",
              "pos_label": "A", "positive_axis_judgment": axis, "negative_axis_judgment": axis,
              "style_judgment": style,
              "confound_judgment": {"off_axis_problem_likert": 2, "likely_spurious_axis": "none",
                                    "usable_for_training": True, "confound_reason": "r"}}
    if prompts:
        result["pos_generation_prompt"] = f"You are a honest person.\n\nScenario:\nQuestion {row}?"
        result["neg_generation_prompt"] = f"You are a deceitful person.\n\nScenario:\nQuestion {row}?"
    return result


def export_record(prompts: bool) -> dict:
    record = {"template": "Act {persona}.", "persona_pair": "warm_cold", "pos_persona": "warm",
              "neg_persona": "cold", "prompt": "How are you?", "error": None, "strict_pass": True,
              "axis_delta": 4, "positive_delta": 2, "negative_delta": 2, "off_axis_problem": 1,
              "usable_for_training": True, "likely_spurious_axis": "none", "max_style_abs_delta": 1,
              "word_delta_frac": 0.0, "persona_echo": False, "refusal_or_ai_break": False,
              "pos_response": "Great, thanks!", "neg_response": "Fine."}
    if prompts:
        record.update(pos_generation_prompt="Act warm.\n\nScenario:\nHow are you?",
                      neg_generation_prompt="Act cold.\n\nScenario:\nHow are you?")
    return record


def test_artifacts_and_exports_take_messages_from_their_generation_prompts(tmp_path):
    artifact = tmp_path / "run.json"
    artifact.write_text(json.dumps({"generator_model": "g", "judge_model": "j", "seed": 1, "temperature": 0,
                                    "results": [artifact_result(1, True), artifact_result(2, False)]}))
    with_prompts, without = tmp_path / "with_examples.jsonl", tmp_path / "without_examples.jsonl"
    with_prompts.write_text(json.dumps(export_record(True)) + "\n")
    without.write_text(json.dumps(export_record(False)) + "\n")
    db = tmp_path / "w.duckdb"
    assert main(["--db", str(db), "ingest", str(artifact), str(with_prompts), str(without)]) == 0
    raw = rows(db, "select scenario_text, pos_messages, neg_messages from raw.pairs order by scenario_text")
    assert [(s, json.loads(p) if p else None, json.loads(n) if n else None) for s, p, n in raw] == [
        ("Question 1?", [{"role": "user", "content": "You are a honest person.\n\nScenario:\nQuestion 1?"}],
         [{"role": "user", "content": "You are a deceitful person.\n\nScenario:\nQuestion 1?"}]),
        ("Question 2?", None, None)]
    assert main(["--db", str(db), "build"]) == 0
    mart = rows(db, "select measurement_id, scenario_text, pos_messages, neg_messages, pos_prompt from main.examples "
                    "order by measurement_id, scenario_text")
    got = {(m, s): (json.loads(p) if p else None, json.loads(n) if n else None, prompt)
           for m, s, p, n, prompt in mart}
    assert got[("with", "How are you?")] == (
        [{"role": "user", "content": "Act warm.\n\nScenario:\nHow are you?"}],
        [{"role": "user", "content": "Act cold.\n\nScenario:\nHow are you?"}],
        "Act warm.\n\nScenario:\nHow are you?")
    assert got[("without", "How are you?")] == (None, None, None)  # never reconstructed
    assert got[("run", "Question 1?")][0] == [{"role": "user",
                                               "content": "You are a honest person.\n\nScenario:\nQuestion 1?"}]
    assert got[("run", "Question 2?")][:2] == (None, None)


def test_a_system_turn_folds_into_the_user_turn_for_templates_without_one():
    sent = [{"role": "system", "content": "You are bold."}, {"role": "user", "content": "What now?"}]
    assert fit_to_template(sent, system_ok=True) == sent
    assert fit_to_template(sent, system_ok=False) == [{"role": "user", "content": "You are bold.\n\nWhat now?"}]
    user_only = [{"role": "user", "content": "Act bold.\n\nWhat now?"}]
    assert fit_to_template(user_only, system_ok=False) == user_only


@pytest.mark.parametrize("stored", ['{"role": "user"}', "[]", '[{"role": "tool", "content": "x"}]',
                                    '[{"role": "user", "content": 3}]', "not json"])
def test_malformed_stored_messages_are_one_line_errors(stored):
    with pytest.raises(UserError, match=r"^examples pr_1 pos_messages: "):
        parse_messages(stored, "examples pr_1 pos_messages")
