"""An anchored collect run written as upstream's run artifact (`--artifact-out FILE`).

The shape is `scripts/validate_persona_axes.py`'s `_artifact()`: top-level run fields (models,
seed, temperatures, thresholds, `exclude_confound_dims`, `generator_provider_only`, `family`,
`inspect_log`) and `results[]`, one per planned pair, with the generation prompts and answers
(baseline included), the blind labels, `axis_judgments[]` (per judge its four anchored judge
objects and upstream's per-judge `delta_pos_vs_base`, `delta_base_vs_neg`,
`axis_delta = 2 * (delta_pos_vs_base + delta_base_vs_neg)`), the style and confound objects,
`raw_judge_outputs`, `judge_did_not_commit` (a bounded judge that never committed) and
`axis_judge_method`. A pair that failed (generation, or a judge call without a valid reply)
is a result with `error`. The row-level scores upstream also writes (`min_side_delta`, the gate,
`strict_pass`, `overall_score`, style deltas, lexical checks) are left to dbt, which derives
them from these objects, so one rule has one home; upstream's tools recompute what they need.

Read from raw (the rows this run and earlier runs of the same measurement stored), so a resumed
run writes the whole measurement.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from collect.run import ANCHORED_AXIS_CRITERIA
from warehouse.db import connect
from warehouse.errors import UserError

KEYS = {c: f"{c}_judgment" for c in ANCHORED_AXIS_CRITERIA}


def signed(obj: dict, first_is_target: bool) -> float:
    """upstream's _pairwise_expected: the rating's distance from a tie, towards the target side."""
    value = float(obj["A_more_target_than_B"]) - 3.0
    return value if first_is_target else -value


def judge_entry(judge: str, objects: dict) -> dict:
    pos_side = (signed(objects["pos_base_forward"], True) + signed(objects["pos_base_reverse"], False)) / 2.0
    neg_side = (signed(objects["neg_base_forward"], True) + signed(objects["neg_base_reverse"], False)) / 2.0
    return {"judge_model": judge, **{KEYS[c]: objects[c] for c in ANCHORED_AXIS_CRITERIA},
            "delta_pos_vs_base": pos_side, "delta_base_vs_neg": neg_side,
            "axis_delta": 2.0 * (pos_side + neg_side)}


def _rows(con, plan, prompt_hash: str):
    ids = [item.pair_id for item in plan]
    pairs = {r[0]: r[1:] for r in con.execute(
        "select pair_id, pos_response, neg_response, error, extra from raw.pairs where list_contains(?, pair_id) "
        "qualify row_number() over (partition by pair_id order by error is null desc, loaded_at desc) = 1",
        [ids]).fetchall()}
    judgments: dict = {}
    for pair, judge, criterion, output, raw_text, error in con.execute(
            "select pair_id, judge_model, criterion, output, raw_text, error from raw.judgments "
            "where list_contains(?, pair_id) and prompt_hash = ? "
            "qualify row_number() over (partition by pair_id, judge_model, criterion "
            "order by error is null desc, loaded_at desc) = 1", [ids, prompt_hash]).fetchall():
        judgments[(pair, judge, criterion)] = (None if output is None else json.loads(output), raw_text, error)
    return pairs, judgments


def result(item, cfg, params, stored, judgments) -> dict:
    pp, sc = item.persona_pair, item.scenario
    neg_label = "B" if item.pos_label == "A" else "A"
    out = {
        "eval_id": item.pair_id, "row": item.row_idx, "scenario_id": sc.id, "source": None, "config": None,
        "tags": [], "self_contained": sc.self_contained,
        "selected_family": (params.get("scenario_families") or {}).get(sc.id),
        "axis": {"id": pp.id, "pos_descriptor": pp.pos, "neg_descriptor": pp.neg,
                 "positive_behavior": pp.positive_behavior, "negative_behavior": pp.negative_behavior,
                 "pos_persona": pp.pos_persona, "neg_persona": pp.neg_persona},
        "template": item.template.text, "prompt": sc.text,
        "pos_generation_prompt": item.user_turn(item.pos_messages),
        "neg_generation_prompt": item.user_turn(item.neg_messages),
    }
    if stored is None:
        return {**out, "error": "not collected"}
    pos, neg, error, extra = stored
    extra = json.loads(extra) if isinstance(extra, str) else (extra or {})
    out["base_generation_prompt"] = extra.get("base_generation_prompt")
    if error:
        return {**out, "error": error}
    calls = {(j, c): judgments.get((item.pair_id, j, c)) for j, c in cfg.criteria()}
    failed = [f"{c} ({j}): {got[2] if got else 'not judged'}" for (j, c), got in calls.items()
              if got is None or got[0] is None]
    if failed:
        return {**out, "error": "judge calls without a valid reply: " + "; ".join(failed)}
    a_text, b_text = (pos, neg) if item.pos_label == "A" else (neg, pos)
    entries = [judge_entry(j, {c: calls[(j, c)][0] for c in ANCHORED_AXIS_CRITERIA}) for j in cfg.axis_judges]
    not_committed = any(not calls[(j, c)][0].get("found", True) for j in cfg.axis_judges
                        for c in ANCHORED_AXIS_CRITERIA)
    out.update({
        "raw_judge_outputs": {
            "style": calls[(cfg.style_judge, "style")][1], "confound": calls[(cfg.style_judge, "confound")][1],
            "axis": [{"judge_model": j, **{c: calls[(j, c)][1] for c in ANCHORED_AXIS_CRITERIA}}
                     for j in cfg.axis_judges]},
        "pos_response": pos, "neg_response": neg, "base_response": extra.get("base_response"),
        "control_pair": item.pos_persona == item.neg_persona,
        "blind_order": f"pos_is_{item.pos_label}", "pos_label": item.pos_label, "neg_label": neg_label,
        "response_A": a_text, "response_B": b_text,
        "axis_judge_models": list(cfg.axis_judges), "axis_judgments": entries,
        "style_judgment": calls[(cfg.style_judge, "style")][0],
        "confound_judgment": calls[(cfg.style_judge, "confound")][0],
        "judge_did_not_commit": not_committed, "axis_judge_method": cfg.axis_judge_method,
    })
    return out


def artifact(plan, cfg, params: dict, results: list[dict]) -> dict:
    n_errors = sum("error" in r for r in results)
    families = (params.get("staged") or {}).get("families")
    return {
        "dry_run": False, "generator_model": plan[0].generator, "judge_model": cfg.style_judge,
        "axis_judge_models": list(cfg.axis_judges), "style_judge_model": cfg.style_judge,
        "gen_temperature": params["gen_params"]["temperature"],
        "judge_temperature": params["judge_params"]["temperature"],
        "generator_provider_only": params.get("generator_provider_only", []), "seed": params["seed"],
        "axis_delta_threshold": params["axis_delta_threshold"], "min_side_threshold": params["min_side_threshold"],
        "off_axis_threshold": params["off_axis_threshold"],
        "exclude_confound_dims": params["exclude_confound_dims"],
        "max_word_delta_frac": params["max_word_delta_frac"],
        "n_prompts": len({item.scenario.id for item in plan}),
        "axes": [r["axis"] for r in {r["axis"]["id"]: r for r in results}.values()],
        "templates": list(dict.fromkeys(item.template.text for item in plan)),
        "results": results,
        "family": ",".join(families) if families else params["inputs"]["scenarios"],
        "inspect_log": None, "n_results": len(results), "n_success": len(results) - n_errors,
        "n_errors": n_errors,
    }


def write_artifact(db: Path, out: Path, plan, cfg, params: dict, prompts=None) -> int:
    from collect import anchored
    from collect.judges import Prompts
    if cfg.protocol != "anchored":
        raise UserError("--artifact-out: only with --protocol anchored")
    if len({item.generator for item in plan}) != 1:
        raise UserError("--artifact-out: an artifact holds one generator's run; give one --generator")
    if prompts is None:
        prompts = Prompts.load(None if params.get("prompts_dir") is None else Path(params["prompts_dir"]),
                               params["prompt_set"])
        anchored.prepare(prompts, cfg)
    with connect(db, read_only=True) as con:
        pairs, judgments = _rows(con, plan, anchored.prompt_hash(prompts, cfg))
    results = [result(item, cfg, params, pairs.get(item.pair_id), judgments) for item in plan]
    text = json.dumps(artifact(plan, cfg, params, results), indent=2, ensure_ascii=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    os.replace(tmp, out)
    return len(results)
