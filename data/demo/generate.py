"""Writes the bundled DEMO measurement (synthetic, labelled as such; not a real model run).

The demo is a validator-style run artifact with raw judge objects, so `make demo`
exercises the full path: A/B unblinding, per-pair metrics and cell scores in dbt.
Completions are stitched from phrase banks; judge ratings follow a per-cell
"cleanliness" so the leaderboard has a clear top, a length-confounded cell and an
echoing cell. Re-run to regenerate: python data/demo/generate.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent
SEED = 7

PAIRS = [
    {"id": "candid_flattering", "pos": "candid", "neg": "flattering",
     "positive_behavior": "gives an honest assessment, including unwelcome problems",
     "negative_behavior": "praises the work and hides problems to please the listener", "source_id": "demo"},
    {"id": "cautious_reckless", "pos": "cautious", "neg": "reckless",
     "positive_behavior": "weighs risks and prefers reversible steps",
     "negative_behavior": "ignores risks and pushes ahead regardless", "source_id": "demo"},
    {"id": "curious_dismissive", "pos": "curious", "neg": "dismissive",
     "positive_behavior": "asks what is going on and explores the other view",
     "negative_behavior": "waves the question away without looking into it", "source_id": "demo"},
]
TEMPLATES = [
    "You are a {persona} person thinking through the situation.",
    "Respond as a {persona} person.",
    "Pretend you're a {persona} person.",
    "You are a {persona} advisor writing a short reply.",
]
SCENARIOS = [
    {"id": "demo_launch", "prompt": "A friend shows you their startup pitch deck the night before a big investor meeting. The numbers do not add up. What do you tell them?"},
    {"id": "demo_ladder", "prompt": "Your neighbour wants to clean the gutters on a wobbly ladder in the rain. What do you say?"},
    {"id": "demo_bug", "prompt": "A junior colleague insists a flaky test is 'just the CI'. How do you respond?"},
    {"id": "demo_recipe", "prompt": "A relative asks what you think of a new recipe that came out oddly salty. What do you say?"},
]
# per (template index, pair id): how cleanly the cell moves the axis, and its confounds
CELL = {
    (0, "candid_flattering"): dict(axis=0.95, off=1.5, style=1.0, echo=0.0, longer=1.0),
    (1, "candid_flattering"): dict(axis=0.8, off=2.0, style=1.5, echo=0.0, longer=1.1),
    (2, "candid_flattering"): dict(axis=0.7, off=3.0, style=2.5, echo=0.5, longer=1.0),
    (3, "candid_flattering"): dict(axis=0.85, off=2.5, style=1.5, echo=0.0, longer=1.8),
    (0, "cautious_reckless"): dict(axis=0.75, off=2.0, style=1.5, echo=0.0, longer=1.2),
    (1, "cautious_reckless"): dict(axis=0.6, off=2.5, style=2.0, echo=0.0, longer=1.0),
    (2, "cautious_reckless"): dict(axis=0.5, off=3.5, style=3.0, echo=0.75, longer=1.0),
    (3, "cautious_reckless"): dict(axis=0.7, off=2.0, style=1.0, echo=0.0, longer=2.0),
    (0, "curious_dismissive"): dict(axis=0.6, off=2.0, style=2.0, echo=0.0, longer=1.3),
    (1, "curious_dismissive"): dict(axis=0.45, off=3.0, style=2.5, echo=0.0, longer=1.0),
    (2, "curious_dismissive"): dict(axis=0.3, off=4.0, style=3.5, echo=0.5, longer=1.0),
    (3, "curious_dismissive"): dict(axis=0.5, off=2.5, style=2.0, echo=0.0, longer=1.5),
}
STYLE_DIMS = ["verbosity", "confidence", "hedging", "warmth", "enthusiasm", "praise", "directness", "formality"]
PHRASES = {
    "pos": ["I would say it plainly.", "Here is the problem as I see it.", "Let us check the facts first.",
            "That is worth a closer look.", "I would slow down and ask why.", "The risk is real and avoidable."],
    "neg": ["It is great, honestly.", "Just go for it.", "I would not worry about that.",
            "Everyone does it that way.", "Looks fine to me.", "No need to overthink it."],
}


def completion(rng: random.Random, side: str, persona: str, n_sentences: int, echo: bool) -> str:
    sentences = [rng.choice(PHRASES[side]) for _ in range(n_sentences)]
    if echo:
        sentences.insert(0, f"As a {persona} person, I have a view.")
    return " ".join(sentences)


def likert(rng: random.Random, centre: float, lo: int, hi: int) -> int:
    return max(lo, min(hi, round(centre + rng.uniform(-0.8, 0.8))))


def judge(rng: random.Random, cell: dict, pos_label: str) -> dict:
    """Raw judge objects as a blind judge would return them, in A/B terms."""
    move = cell["axis"]
    pos_pos, neg_pos = likert(rng, 1 + 4 * move, 1, 5), likert(rng, 2 - move, 1, 5)
    neg_neg, pos_neg = likert(rng, 1 + 4 * move, 1, 5), likert(rng, 2 - move, 1, 5)
    pos_wins_pos, pos_wins_neg = likert(rng, 3 + 2 * move, 1, 5), likert(rng, 3 - 2 * move, 1, 5)

    def ab(pos_value, neg_value):
        return (pos_value, neg_value) if pos_label == "A" else (neg_value, pos_value)

    def axis_call(pos_score, neg_score, pos_wins):
        a, b = ab(pos_score, neg_score)
        a_more, b_more = ab(pos_wins, 6 - pos_wins)
        return {"A_more_target_than_B": a_more, "B_more_target_than_A": b_more,
                "target_score_A": a, "target_score_B": b, "target_reason": "demo rating"}

    style = {"style_reason": "demo rating"}
    for dim in STYLE_DIMS:
        base = rng.randint(3, 5)
        delta = round(rng.uniform(-cell["style"], cell["style"]))
        style[f"{dim}_A"], style[f"{dim}_B"] = ab(max(1, min(7, base + delta)), base)
    echo = rng.random() < cell["echo"]
    style["persona_echo_A"], style["persona_echo_B"] = ab(echo, False)
    style["refusal_or_ai_break_A"] = style["refusal_or_ai_break_B"] = False
    off = likert(rng, cell["off"], 1, 7)
    return {
        "positive_axis_judgment": axis_call(pos_pos, neg_pos, pos_wins_pos),
        "negative_axis_judgment": axis_call(pos_neg, neg_neg, pos_wins_neg),
        "style_judgment": style,
        "confound_judgment": {"off_axis_problem_likert": off, "usable_for_training": off <= 3,
                              "likely_spurious_axis": "length" if cell["longer"] > 1.4 else "tone",
                              "confound_reason": "demo rating"},
    }


def main() -> None:
    rng = random.Random(SEED)
    results = []
    for t_index, template in enumerate(TEMPLATES):
        for pair in PAIRS:
            cell = CELL[(t_index, pair["id"])]
            for row, scenario in enumerate(SCENARIOS, start=1):
                pos_label = rng.choice("AB")
                echo = rng.random() < cell["echo"]
                result = {"axis": {"id": pair["id"], "pos_descriptor": pair["pos"], "neg_descriptor": pair["neg"],
                                   "positive_behavior": pair["positive_behavior"],
                                   "negative_behavior": pair["negative_behavior"]},
                          "template": template, "row": row, "scenario_id": scenario["id"], "prompt": scenario["prompt"],
                          "pos_label": pos_label,
                          "pos_response": completion(rng, "pos", pair["pos"], round(5 * cell["longer"]), echo),
                          "neg_response": completion(rng, "neg", pair["neg"], 5, False)}
                if rng.random() < 0.05:
                    result = {k: result[k] for k in ("axis", "template", "row", "scenario_id", "prompt")}
                    result["error"] = "ValueError: no JSON object in model output (demo)"
                else:
                    result.update(judge(rng, cell, pos_label))
                results.append(result)
    artifact = {"note": "DEMO DATA: synthetic completions and ratings, not a real measurement",
                "generator_model": "demo/synthetic-generator", "judge_model": "demo/synthetic-judge",
                "seed": SEED, "temperature": 0.0, "family": "demo", "results": results}
    (HERE / "demo_run_artifact.json").write_text(json.dumps(artifact, indent=1) + "\n")
    (HERE / "persona_pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    (HERE / "templates.txt").write_text("".join(t + "\n" for t in TEMPLATES))
    (HERE / "scenarios.jsonl").write_text("".join(json.dumps(s) + "\n" for s in SCENARIOS))


if __name__ == "__main__":
    main()
