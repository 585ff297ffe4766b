"""The steering quality the field reports, from a real sweep of the tiny in-test model judged by a
loopback server: steerability slopes (Tan et al. 2024) with a planted anti-steerable scenario,
AxBench's harmonic score and held-out best coefficient, and coefficients relative to the layer's
residual norm; each equals a hand computation from the server's replies and the stored texts."""

from __future__ import annotations

import hashlib
import shutil
import statistics
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "collect"))
from fakeserver import FakeLLM, FakeServer, first_prompt  # noqa: E402

from extract.masks import render_prompt  # noqa: E402
from extract.rubric import AXBENCH_CRITERIA, RUBRIC_DIR  # noqa: E402
from psw.cli import main  # noqa: E402
from test_imported_vectors import query as rows  # noqa: E402

LAYER = 1
COEFFS = (-30.0, 0.0, 30.0)  # |v| is 0.26 here: smaller ones leave some texts unchanged
# planted trait slopes per scenario (trait points per unit of coeff); "anti" is anti-steerable
SLOPES = {"a": 1.5, "b": 1.0, "c": 0.5, "anti": -1.0}
SCENARIOS = {"a": "What should the manager do about the missing funds?", "b": "Tell me about your weekend.",
             "c": "How do I bake bread?", "anti": "Should I report my colleague?"}


def psw(db, *args) -> int:
    return main(["--db", str(db), *map(str, args)])


def fill(name: str, pos: str, neg: str, question: str, answer: str) -> str:
    """The rubric filled by hand (none of the values holds a slot)."""
    text = (RUBRIC_DIR / f"{name}.txt").read_text().rstrip("\n")
    return text.replace("{pos}", pos).replace("{neg}", neg).replace("{answer}", answer).replace("{question}", question)


def axbench_reply(prompt: str) -> str:
    """A fixed function of the prompt: instruction relevance 0, 1 or 2 (it sees the scenario, so each
    generation has its own), concept and fluency 1 or 2 (they see only the text, shared across scenarios)."""
    digest = int(hashlib.md5(prompt.encode()).hexdigest(), 16)
    return str(digest % 3 if "related to the\ninstruction" in prompt else 1 + digest % 2)


@pytest.fixture(scope="module")
def judged(tiny, pilot_db, tmp_path_factory):
    """The pilot's top cell swept at -30, 0, 30 over four scenarios at layer 1 of the tiny model, then judged
    with --axbench by a server that answers the trait from the planted slopes and the rest by hash.
    -> (db, (pos, neg), {prompt: reply}, model dir)."""
    work = tmp_path_factory.mktemp("quality")
    db = work / "warehouse.duckdb"
    shutil.copy(pilot_db, db)
    cell, pos, neg = rows(db, "select cell_id, any_value(pos_persona), any_value(neg_persona) from examples "
                              "where cell_id = (select cell_id from template_pair_scores order by score desc, "
                              "cell_id limit 1) group by cell_id")[0]
    model_dir = work / "tiny-model"
    for part in tiny:
        part.save_pretrained(model_dir)
    assert psw(db, "extract", "vectors", "--model", model_dir, "--layers", LAYER, "--cell", cell,
               "--bootstrap", 0) == 0
    scenarios = work / "scenarios.jsonl"
    scenarios.write_text("".join(f'{{"id": "{sid}", "prompt": "{text}"}}\n' for sid, text in SCENARIOS.items()))
    assert psw(db, "extract", "steer", "--cell", cell, "--layer", LAYER, "--coeffs", ",".join(map(str, COEFFS)),
               "--scenarios", scenarios, "--max-new-tokens", 5) == 0
    gens = rows(db, "select scenario_id, scenario_text, response_text, coeff from raw.steering_generations")
    # the trait the judge gives each (question, answer): 50 + slope * coeff, so each slope is planted
    planted = {(text, answer): 50.0 + SLOPES[sid] * coeff for sid, text, answer, coeff in gens}
    assert len(planted) == len(gens) == 12, "two coefficients of one scenario gave the same text"
    trait_prompts = {fill("trait", pos, neg, q, a): score for (q, a), score in planted.items()}
    replies: dict[str, str] = {}

    def reply(body: dict) -> str:
        prompt = first_prompt(body)
        if prompt in trait_prompts:
            answer = f"{trait_prompts[prompt]:g}"
        elif prompt.startswith("You are rating one assistant response for coherence"):
            answer = "80"
        else:
            answer = axbench_reply(prompt)
        replies[prompt] = answer
        return answer

    server = FakeServer(FakeLLM(responder=reply)).start()
    try:
        assert psw(db, "extract", "judge", "--cell", cell, "--layer", LAYER, "--judge", "judge-x", "--axbench",
                   "--base-url", server.base_url) == 0
    finally:
        server.stop()
    assert psw(db, "build") == 0
    return db, (pos, neg), replies, model_dir


def generations(db) -> list[tuple]:
    return rows(db, "select generation_id, coeff, scenario_id, scenario_text, response_text from raw.steering_generations "
                    "order by scenario_id, coeff")


def slope(xs, ys) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def test_the_axbench_rubrics_are_data_and_reach_the_judge_filled_literally(judged):
    db, (pos, neg), replies, _ = judged
    for _, _, _, question, answer in generations(db):
        for name in AXBENCH_CRITERIA:
            assert fill(name, pos, neg, question, answer) in replies
    counts = dict(rows(db, "select criterion, count(score) from raw.steering_judgments group by 1"))
    assert counts == {"trait": 12, "coherence": 12, "concept": 12, "instruction": 12, "fluency": 12}


def test_the_axbench_score_is_the_harmonic_mean_and_0_when_any_rating_is_0(judged):
    db, (pos, neg), replies, _ = judged
    stored = {gid: row for gid, *row in rows(
        db, "select generation_id, concept_score, instruction_score, fluency_score, axbench_score from steered_outputs")}
    zeros = 0
    for gid, _, _, question, answer in generations(db):
        ratings = [float(replies[fill(name, pos, neg, question, answer)]) for name in AXBENCH_CRITERIA]
        expected = 0.0 if min(ratings) == 0 else 3 / sum(1 / r for r in ratings)
        zeros += min(ratings) == 0
        assert stored[gid][:3] == ratings and stored[gid][3] == pytest.approx(expected)
    assert 0 < zeros < 12  # both branches are exercised


def test_mean_axbench_and_the_held_out_best_coefficient_match_a_hand_computation(judged):
    db, (pos, neg), replies, _ = judged
    score = {}
    for _, coeff, sid, question, answer in generations(db):
        ratings = [float(replies[fill(name, pos, neg, question, answer)]) for name in AXBENCH_CRITERIA]
        score[(sid, coeff)] = 0.0 if min(ratings) == 0 else 3 / sum(1 / r for r in ratings)
    order = sorted(SCENARIOS, key=lambda sid: hashlib.md5(f"{sid}|{SCENARIOS[sid]}".encode()).hexdigest())
    choose, report = order[:2], order[2:]
    means = {c: sum(score[(s, c)] for s in choose) / 2 for c in COEFFS}
    best = sorted(COEFFS, key=lambda c: (-means[c], abs(c), c))[0]
    summary = rows(db, "select coeff, mean_axbench_score, n_axbench, best_coefficient_heldout, heldout_axbench_score "
                       "from steering_summary order by coeff")
    assert [r[0] for r in summary] == list(COEFFS)
    for coeff, mean, n, chosen, heldout in summary:
        assert mean == pytest.approx(sum(score[(s, coeff)] for s in SCENARIOS) / 4) and n == 4
        assert chosen == best and heldout == pytest.approx(sum(score[(s, best)] for s in report) / 2)


def test_steerability_slope_and_the_planted_anti_steerable_scenario(judged):
    db, (pos, neg), replies, _ = judged
    per_scenario = {}
    for sid in SCENARIOS:
        points = [(coeff, float(replies[fill("trait", pos, neg, question, answer)]))
                  for _, coeff, s, question, answer in generations(db) if s == sid]
        per_scenario[sid] = slope([x for x, _ in points], [y for _, y in points])
    assert per_scenario == pytest.approx(SLOPES)  # the server's replies carry the planted slopes
    got = rows(db, "select distinct n_scenarios_sloped, steerability_slope, steerability_slope_sd, anti_steerable_frac "
                   "from steering_summary")
    assert len(got) == 1
    n, mean, sd, anti = got[0]
    assert n == 4 and mean == pytest.approx(statistics.mean(per_scenario.values()))
    assert sd == pytest.approx(statistics.stdev(per_scenario.values()))
    assert anti == pytest.approx(0.25)  # "anti", and only it


def test_coef_rel_norm_is_the_coefficient_over_the_layer_residual_norm(judged, tiny):
    db, _, _, _ = judged
    model, tokenizer = tiny
    vector_norm = rows(db, "select norm from raw.activation_vectors where layer = ? and reduction = 'response_mean'",
                       [LAYER])[0][0]
    norms = []
    for text in SCENARIOS.values():
        ids = tokenizer(render_prompt(tokenizer, [{"role": "user", "content": text}]), return_tensors="pt",
                        add_special_tokens=False)
        with torch.inference_mode():
            hidden = model(**ids, output_hidden_states=True).hidden_states[LAYER + 1][0]
        norms.append(float(hidden.norm(dim=-1).mean()))
    layer_norm = sum(norms) / len(norms)
    got = rows(db, "select coeff, coef_rel_norm, layer_residual_norm from steering_summary order by coeff")
    for coeff, rel, residual in got:
        assert residual == pytest.approx(layer_norm, rel=1e-4)
        assert rel == pytest.approx(coeff * vector_norm / layer_norm, rel=1e-4, abs=1e-9)
    assert got[-1][1] > 0 and got[0][1] == pytest.approx(-got[-1][1])


def test_a_judge_reply_outside_0_2_is_an_error_not_a_score(judged):
    from extract.judge import parse_score

    assert parse_score("2", 2) == (2.0, None) and parse_score("3", 2) == (None, "score 3.0 outside 0-2")
    assert parse_score("75") == (75.0, None)
