"""Upstream's two-stage selection, reproduced from the warehouse (`psw export-selection --format
upstream --stage-a A --measurement B`).

Stage A screened templates; its winner is the `stage_screens` mart's (upstream's parse_stage_a.py
ranking: strict_pass_rate, then mean_axis_delta; the same row `psw collect --stage b` measured).
Stage B measured that cell over a scenario pool; the export keeps the winner's stage B pairs and
selects among them as export_selections.py does (hf/selection_upstream.rank). Beside the JSONL,
`<name>_summary.json` says what was chosen, in upstream's summary shape:

    axis, template, generator_model,
    stage_a          the winner's stage A summary row (upstream's stage_a_winner.json: the keys of
                     validate_persona_axes.py summarize, 3 dp),
    stage_b_summary  the same row for the cell in stage B,
    n_selected, source_counts [{source, n}] (export_authority_steering_selection.py's table),
    //written_by, //stage_a_input, //stage_b_input, //selection   (psw's provenance)

Every number is a mart's (`stage_screens`, STAGE_COLUMNS below); this module rounds and writes.
Loaded back (kind selection) beside upstream's own summary, `selection_reproduction` compares them.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from warehouse.errors import UserError

# upstream's summary-row key -> stage_screens column (upstream's anchored summary calls the mean
# gate mean_off_axis_problem)
STAGE_COLUMNS = {
    "n": "n", "strict_pass_rate": "strict_pass_rate", "mean_axis_delta": "mean_axis_delta",
    "mean_delta_pos_vs_base": "mean_delta_pos_vs_base", "mean_delta_base_vs_neg": "mean_delta_base_vs_neg",
    "mean_min_side_delta": "mean_min_side_delta", "mean_axis_delta_judge_std": "mean_axis_delta_judge_std",
    "mean_overall_score": "mean_overall_score", "mean_off_axis_problem": "mean_gate_off_axis_problem",
    "mean_max_off_axis_category_likert": "mean_max_off_axis_category_likert",
    "mean_max_style_abs_delta": "mean_max_style_abs_delta", "mean_abs_word_delta_frac": "mean_abs_word_delta_frac",
    "persona_echo_rate": "persona_echo_rate", "refusal_or_ai_break_rate": "refusal_or_ai_break_rate",
    "recommended": "recommended",
}
SUMMARY_SUFFIX = "_summary.json"


def summary_path(out: Path) -> Path:
    """`<name>.jsonl` -> `<name>_summary.json` (the pair ingest/selections.py links by name)."""
    return out.with_name(out.stem + SUMMARY_SUFFIX)


def _stage_rows(con, where: str, params: list) -> list[dict]:
    cols = ", ".join(f'{col} as "{key}"' for key, col in STAGE_COLUMNS.items())
    cursor = con.execute(f"""select persona_pair_id as axis, template_text as template, {cols}
                             from main.stage_screens where {where}""", params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def require(con, db: Path) -> None:
    if not con.execute("select count(*) from information_schema.tables "
                       "where table_schema = 'main' and table_name = 'stage_screens'").fetchone()[0]:
        raise UserError(f"{db}: stage_screens missing; run `psw build`")


def winner(con, stage_a: str) -> dict:
    """Stage A's winner row (stage_screens.is_stage_winner), refused in one line when there is none."""
    rows = _stage_rows(con, "measurement_id = ? and is_stage_winner", [stage_a])
    if not rows:
        known = [r[0] for r in con.execute("select distinct measurement_id from main.stage_screens "
                                           "order by 1").fetchall()]
        raise UserError(f"--stage-a {stage_a}: no ranked cells of that measurement in stage_screens "
                        f"(measurements: {', '.join(known) or 'none'}); run `psw build`")
    return rows[0]


def stage_b_row(con, stage_b: str, chosen: dict) -> dict:
    rows = _stage_rows(con, "measurement_id = ? and template_text = ? and persona_pair_id = ?",
                       [stage_b, chosen["template"], chosen["axis"]])
    if not rows:
        raise UserError(f"--stage-a: its winner ({chosen['axis']}, template {chosen['template']!r}) has no cell "
                        f"in stage B's measurement {stage_b}; measure it there (`psw collect --config ... "
                        f"--stage b`), then `psw build`")
    return rows[0]


def winners_pairs(pairs: list[dict], chosen: dict) -> list[dict]:
    """Stage B's pairs of the winning cell (a stage B run may hold other templates too)."""
    return [p for p in pairs if p["template_text"] == chosen["template"] and p["persona_pair_id"] == chosen["axis"]]


def _present(row: dict) -> dict:
    """Upstream's summary row: its keys, numbers to 3 dp as upstream rounds them."""
    def value(key, v):
        if v is None or key in ("axis", "template"):
            return v
        if key == "recommended":
            return bool(v)
        return int(v) if key == "n" else round(float(v), 3)
    return {key: value(key, v) for key, v in row.items()}


def summary(stage_a_row: dict, stage_b: dict, chosen_pairs: list[dict], run: dict, provenance: dict) -> dict:
    counts = Counter(str(p["scenario_source"]) for p in chosen_pairs)
    return {
        "axis": stage_a_row["axis"], "template": stage_a_row["template"],
        "generator_model": run["generator_model"],
        "stage_a": _present(stage_a_row), "stage_b_summary": _present(stage_b),
        "n_selected": len(chosen_pairs),
        "source_counts": [{"source": source, "n": counts[source]} for source in sorted(counts)],
        **provenance,
    }


def render(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
