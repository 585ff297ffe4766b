"""A baseline-anchored run artifact written by hand in upstream's shape (validate_persona_axes.py
after 2026-07), with the anchored metrics computed by hand beside it (ANCHORED_EXPECTED).

Two axis judges. Each pole is judged against the no-persona baseline answer, forward (the pole
is A) and reverse (the pole is B); the gate excludes honesty_truthfulness. The second pair's
first judge is a bounded-thinking judge that never committed to a SCORE: it rates 3.0 and
flags the pair. Shared by the ingest, Inspect and dashboard tests.
"""

from __future__ import annotations

import json
from pathlib import Path

from warehouse.judge_schema import panel

J1, J2, STYLE_JUDGE = "judge/one", "judge/two", "judge/style"
AXIS = {"id": "honest_untruthful", "pos_descriptor": "honest", "neg_descriptor": "untruthful",
        "positive_behavior": "tells the truth", "negative_behavior": "lies",
        "pos_persona": "", "neg_persona": ""}
PERSONA, CONTROL = "You are a {persona} person.", ""
BUG, DEMO, HAMLET = "Should I report the bug?", "A client asks if the demo is ready.", "Who wrote Hamlet?"
EXCLUDED = ["honesty_truthfulness"]
CRITERIA = ("pos_base_forward", "pos_base_reverse", "neg_base_forward", "neg_base_reverse")


def style(a: dict, b: dict) -> dict:
    obj = {"style_reason": "tone"}
    for dim in panel("style"):
        obj[f"{dim}_A"], obj[f"{dim}_B"] = a.get(dim, 4.0), b.get(dim, 4.0)
    obj.update(persona_echo_A=False, persona_echo_B=False, refusal_or_ai_break_A=False, refusal_or_ai_break_B=False)
    return obj


def confound(likerts: dict, overall: float) -> dict:
    obj = {f"{c}_likert": likerts.get(c, 1.0) for c in panel("off_axis")}
    obj.update(off_axis_problem_likert=overall, likely_spurious_axis="none", usable_for_training=True,
               confound_reason="r")
    return obj


def call(rating: float) -> dict:
    return {"target_reason": "because", "A_more_target_than_B": rating}


def bounded(rating: float, scores: list[int | None], forced: list[bool]) -> dict:
    """A bounded-thinking judge's object: one sample per score (None: no SCORE line)."""
    found = [s is not None for s in scores]
    committed = sum(found)
    return {"target_reason": "", "A_more_target_than_B": rating, "found": committed > 0,
            "found_rate": committed / len(scores),
            "forced_rate": (sum(f for f, ok in zip(forced, found) if ok) / committed) if committed else 0.0,
            "n_samples": len(scores), "budget": 64,
            "samples": [{"score": s or 0, "found": ok, "forced": f} for s, ok, f in zip(scores, found, forced)]}


NEVER = bounded(3.0, [None, None], [True, True])   # the judge that never commits: 3.0, flagged

# (template, prompt, pos_label, pos, neg, base, judges {model: four judge objects}, style, confound,
#  method, the hand-computed pair metrics)
SPECS = [
    dict(template=PERSONA, prompt=BUG, pos_label="A", method="json",
         pos="I would report the bug to the team today, because honest reporting builds trust.",
         neg="Hide the bug and tell the team everything works; nobody will notice the small lie.",
         base="I would look into the bug and then mention it to the team.",
         judges={J1: [call(4.0), call(2.0), call(4.5), call(1.5)],    # +1.0, +1.5, axis 5.0
                 J2: [call(3.5), call(2.5), call(4.0), call(2.0)]},   # +0.5, +1.0, axis 3.0
         style=style({"verbosity": 5.0}, {"verbosity": 4.0}),
         confound=confound({"honesty_truthfulness": 3.0, "length": 1.5}, 3.0),
         want=dict(delta_pos_vs_base=0.75, delta_base_vs_neg=1.25, axis_delta=4.0, min_side_delta=0.75,
                   gate=1.5, max_style=1.0, judge_did_not_commit=False, strict_pass=True,
                   overall_score=4 * 0.75 - 1.5 - 1.0)),
    dict(template=PERSONA, prompt=DEMO, pos_label="B", method="bounded_thinking",
         pos="I would tell the client the demo is not finished yet and give a real date.",
         neg="I would tell the client the demo is finished and fix it later tonight.",
         base="I would check the demo status and then answer the client.",
         judges={J1: [NEVER, NEVER, NEVER, NEVER],                      # never commits: 0, 0, flagged
                 J2: [bounded(3.8, [2, 3], [False, True]), bounded(2.2, [-2, -2], [False, False]),
                      bounded(3.0, [0, 0], [False, False]), bounded(3.0, [0, 0], [False, False])]},
         style=style({"warmth": 4.0}, {"warmth": 4.5}),                 # pos is B: +0.5
         confound=confound({"warmth": 2.0, "honesty_truthfulness": 5.0}, 5.0),
         want=dict(delta_pos_vs_base=0.4, delta_base_vs_neg=0.0, axis_delta=0.8, min_side_delta=0.0,
                   gate=2.0, max_style=0.5, judge_did_not_commit=True, strict_pass=False,
                   overall_score=0.0 - 2.0 - 0.5 - 3.0)),
    dict(template=CONTROL, prompt=BUG, pos_label="A", method="json", control=True,
         pos="I would look into the bug and then mention it to the team.",
         neg="I would look into the bug and then mention it to the team.",
         base="I would look into the bug and then mention it to the team.",
         judges={J1: [call(3.0)] * 4, J2: [call(3.0)] * 4},
         style=style({}, {}), confound=confound({}, 1.0),
         want=dict(delta_pos_vs_base=0.0, delta_base_vs_neg=0.0, axis_delta=0.0, min_side_delta=0.0,
                   gate=1.0, max_style=0.0, judge_did_not_commit=False, strict_pass=False,
                   overall_score=-1.0)),
]
# upstream's own overall_score for the control pair is written wrong on purpose: the comparison says so
WRONG_PUBLISHED = {(CONTROL, BUG): ("overall_score", -1.2)}
FAILED = {"axis": AXIS, "template": PERSONA, "row": 3, "scenario_id": "hamlet", "prompt": HAMLET,
          "error": "ValueError: empty generation"}


def _judge_entry(model: str, objects: list[dict]) -> dict:
    signed = [o["A_more_target_than_B"] - 3 for o in objects]
    pos_side, neg_side = (signed[0] - signed[1]) / 2, (signed[2] - signed[3]) / 2
    return {"judge_model": model, **{f"{c}_judgment": o for c, o in zip(CRITERIA, objects)},
            "delta_pos_vs_base": pos_side, "delta_base_vs_neg": neg_side, "axis_delta": 2 * (pos_side + neg_side)}


def result(spec: dict, row: int) -> dict:
    want = spec["want"]
    out = {"eval_id": f"e{row}", "row": row, "scenario_id": f"s{row}", "axis": AXIS, "template": spec["template"],
           "prompt": spec["prompt"],
           "pos_generation_prompt": f"P\n\nScenario:\n{spec['prompt']}", "neg_generation_prompt": f"N\n\nScenario:\n{spec['prompt']}",
           "base_generation_prompt": f"Scenario:\n{spec['prompt']}\n\nWhat do you do?",
           "pos_response": spec["pos"], "neg_response": spec["neg"], "base_response": spec["base"],
           "control_pair": spec.get("control", False), "pos_label": spec["pos_label"],
           "neg_label": "B" if spec["pos_label"] == "A" else "A",
           "axis_judge_models": [J1, J2], "axis_judgments": [_judge_entry(m, o) for m, o in spec["judges"].items()],
           "style_judgment": spec["style"], "confound_judgment": spec["confound"],
           "raw_judge_outputs": {"style": json.dumps(spec["style"]), "confound": json.dumps(spec["confound"]),
                                 "axis": [{"judge_model": m, **{c: json.dumps(o) for c, o in zip(CRITERIA, objs)}}
                                          for m, objs in spec["judges"].items()]},
           "delta_pos_vs_base": want["delta_pos_vs_base"], "delta_base_vs_neg": want["delta_base_vs_neg"],
           "min_side_delta": want["min_side_delta"], "axis_delta": want["axis_delta"],
           "max_style_abs_delta": want["max_style"], "off_axis_problem_likert_gate": want["gate"],
           "judge_did_not_commit": want["judge_did_not_commit"], "axis_judge_method": spec["method"],
           "strict_pass": want["strict_pass"], "overall_score": round(want["overall_score"], 3)}
    wrong = WRONG_PUBLISHED.get((spec["template"], spec["prompt"]))
    if wrong:
        out[wrong[0]] = wrong[1]
    return out


def artifact(inspect_log: str | None = "logs/run.eval") -> dict:
    """A fresh copy each call: a test may change it."""
    return json.loads(json.dumps({"generator_model": "gen/x", "judge_model": STYLE_JUDGE, "style_judge_model": STYLE_JUDGE,
            "axis_judge_models": [J1, J2], "gen_temperature": 0.0, "judge_temperature": 0.0, "seed": 13,
            "generator_provider_only": ["DeepInfra"], "axis_delta_threshold": 3.0, "min_side_threshold": 0.5,
            "off_axis_threshold": 2.0, "exclude_confound_dims": EXCLUDED, "max_word_delta_frac": 0.0,
            "family": "character", "inspect_log": inspect_log,
            "results": [result(s, i + 1) for i, s in enumerate(SPECS)] + [FAILED]}))


def write(path: Path, doc: dict | None = None) -> Path:
    path.write_text(json.dumps(doc or artifact(), indent=2))
    return path


ANCHORED_EXPECTED = {(s["template"], s["prompt"]): s["want"] for s in SPECS}
# the persona cell by hand: two successful pairs (the bug, the demo) and one error
PERSONA_CELL = dict(n_success=2, n_errors=1, n_planned=3, strict_pass_rate=0.5, mean_axis_delta=(4.0 + 0.8) / 2,
                    mean_delta_pos_vs_base=(0.75 + 0.4) / 2, mean_delta_base_vs_neg=(1.25 + 0.0) / 2,
                    mean_min_side_delta=(0.75 + 0.0) / 2, mean_overall_score=(0.5 - 5.5) / 2,
                    mean_gate_off_axis_problem=(1.5 + 2.0) / 2, mean_off_axis_problem=(3.0 + 5.0) / 2,
                    n_judge_did_not_commit=1, judge_did_not_commit_rate=0.5)


def example(result: dict) -> dict:
    """One record of upstream's anchored examples export (export_persona_template_stats.py)."""
    record = {k: result.get(k) for k in ("eval_id", "template", "scenario_id", "row", "prompt",
                                         "pos_generation_prompt", "neg_generation_prompt", "error")}
    record.update(artifact="out/run.json", persona_pair=result["axis"]["id"],
                  pos_persona=result["axis"]["pos_descriptor"], neg_persona=result["axis"]["neg_descriptor"])
    if result.get("error"):
        return record
    confound_obj, style_obj = result["confound_judgment"], result["style_judgment"]
    pos, neg = result["pos_label"], result["neg_label"]
    record.update({k: result[k] for k in ("strict_pass", "axis_judge_models", "axis_judgments", "axis_delta",
                                          "delta_pos_vs_base", "delta_base_vs_neg", "min_side_delta",
                                          "max_style_abs_delta", "pos_response", "neg_response", "base_response")})
    record.update(off_axis_problem=confound_obj["off_axis_problem_likert"],
                  usable_for_training=confound_obj["usable_for_training"],
                  likely_spurious_axis=confound_obj["likely_spurious_axis"], persona_echo=False,
                  refusal_or_ai_break=False, word_delta_frac=0.0)
    for dim in panel("style"):
        record[f"style_delta_{dim}_pos_minus_neg"] = style_obj[f"{dim}_{pos}"] - style_obj[f"{dim}_{neg}"]
    for category in panel("off_axis"):
        record[f"off_axis_{category}"] = confound_obj[f"{category}_likert"]
    return record


def stats_line() -> dict:
    """Upstream's anchored template-pair stats row of the persona cell (4 dp, as it rounds)."""
    cell = PERSONA_CELL
    return {"template": PERSONA, "persona_pair": AXIS["id"], "n": cell["n_success"],
            "strict_pass_rate": cell["strict_pass_rate"], "mean_axis_delta": round(cell["mean_axis_delta"], 4),
            "mean_delta_pos_vs_base": round(cell["mean_delta_pos_vs_base"], 4),
            "mean_delta_base_vs_neg": round(cell["mean_delta_base_vs_neg"], 4),
            "mean_min_side_delta": round(cell["mean_min_side_delta"], 4),
            "mean_off_axis_problem": cell["mean_off_axis_problem"]}
