"""Upstream's `axis_judgments[]` of an anchored pair, rebuilt from the warehouse.

A collected or artifact pair keeps its judges' objects as raw judgments (the examples mart's
`ratings`), and dbt derives each judge's side deltas (int_anchored_judge_axis). Upstream's files
(an examples export, an Inspect log's row) hold them together per judge; `psw export-stats` and
`psw export-inspect` both write them through this one function, so the two agree and `psw ingest`
reads either back to the same judge objects.
"""

from __future__ import annotations

import json

CRITERIA = ("pos_base_forward", "pos_base_reverse", "neg_base_forward", "neg_base_reverse")

# per pair, dbt's numbers of each complete anchored axis judge (int_anchored_judge_axis)
PER_JUDGE_SQL = """
    select pair_id, list({'judge_model': judge_model, 'delta_pos_vs_base': delta_pos_vs_base,
                          'delta_base_vs_neg': delta_base_vs_neg, 'axis_delta': axis_delta}
                         order by judge_model) as per_judge
    from intermediate.int_anchored_judge_axis where is_complete group by pair_id"""


def axis_judgments(ratings: list[dict] | None, per_judge: list[dict] | None) -> list[dict]:
    """Per complete judge (PER_JUDGE_SQL's `per_judge`): its four stored judge objects and dbt's
    side deltas, in upstream's keys."""
    by_call = {(r["judge_model"], r["criterion"]): r for r in ratings or [] if r["error"] is None}
    return [{"judge_model": j["judge_model"],
             **{f"{c}_judgment": json.loads(by_call[(j["judge_model"], c)]["output"]) for c in CRITERIA},
             "delta_pos_vs_base": j["delta_pos_vs_base"], "delta_base_vs_neg": j["delta_base_vs_neg"],
             "axis_delta": j["axis_delta"]} for j in per_judge or []]
