"""`psw export-stats`: upstream's stats files, written from the marts.

Upstream's `scripts/export_persona_template_stats.py` writes, per run, `<prefix>_examples.jsonl`,
`<prefix>_template_pair_stats.{jsonl,csv}` and `<prefix>_template_stats.{jsonl,csv}`. These are the
same files with the same keys, key order and rounding (means and rates to 4 dp; sets sorted; lists
and objects as JSON in the CSV, whose columns are sorted), so upstream's own tools read them. The
prefix is the measurement id. The numbers are the marts' (template_pair_scores, template_scores,
examples); Python only orders, rounds and writes them. A v2 measurement (an upstream v2 export)
gets upstream's v2 keys, which lack the v3 judge-panel columns. An anchored measurement's examples
get the keys of upstream's anchored export (scripts/report/export_persona_template_stats.py: the
side deltas and min_side_delta instead of the positive/negative deltas, and the baseline answer), and
each row states the run's `exclude_confound_dims` (from the measurements mart, as the artifact's top
level states it upstream), so the file says which categories the gate left out and `psw ingest`
reads it back. Its template_pair and template stats get the anchored export's keys and sort too:
mean_delta_pos_vs_base, mean_delta_base_vs_neg and mean_min_side_delta instead of the positive/negative
and pairwise deltas, min_side_delta ranking before axis_delta (template level: int_anchored_templates,
the template's pairs pooled, through template_scores).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from hf import outdir
from hf.secret_scan import check_texts
from hf.anchored_judges import PER_JUDGE_SQL, axis_judgments
from warehouse.db import UserError, connect

V3_ONLY = {"mean_axis_delta_judge_mean", "mean_axis_delta_judge_std", "mean_axis_judge_abs_disagreement",
           "mean_max_off_axis_category_likert", "mean_response_token_jaccard", "mean_pos_repeated_token_frac",
           "mean_neg_repeated_token_frac", "judge_persona_echo_rate", "judge_refusal_or_ai_break_rate"}
# upstream's stats keys after the group keys, in its order (style and off-axis means follow, sorted, then
# `recommended`)
STATS_KEYS = ["n", "strict_pass_rate", "n_strict_pass", "mean_axis_delta", "mean_axis_delta_judge_mean",
              "mean_axis_delta_judge_std", "mean_axis_judge_abs_disagreement", "mean_positive_delta",
              "mean_negative_delta", "mean_pairwise_positive_delta", "mean_pairwise_negative_delta",
              "mean_off_axis_problem", "mean_max_off_axis_category_likert", "usable_rate", "mean_max_style_abs_delta",
              "mean_abs_word_delta_frac", "mean_response_token_jaccard", "mean_pos_repeated_token_frac",
              "mean_neg_repeated_token_frac", "persona_echo_rate", "judge_persona_echo_rate",
              "refusal_or_ai_break_rate", "judge_refusal_or_ai_break_rate", "strict_pass_persona_pairs",
              "common_spurious_axes"]
# an anchored measurement's stats keys (upstream's anchored export, the same at both levels): the side
# deltas and min_side_delta where the guide has the positive/negative and pairwise deltas
_GUIDE_DELTAS = ["mean_positive_delta", "mean_negative_delta", "mean_pairwise_positive_delta",
                 "mean_pairwise_negative_delta"]
_AT = STATS_KEYS.index(_GUIDE_DELTAS[0])
ANCHORED_STATS_KEYS = (STATS_KEYS[:_AT] + ["mean_delta_pos_vs_base", "mean_delta_base_vs_neg", "mean_min_side_delta"]
                       + STATS_KEYS[_AT + len(_GUIDE_DELTAS):])
INTEGERS = {"n", "n_strict_pass", "row"}
# upstream's examples keys -> the examples mart's column (None: the exported record's own field)
EXAMPLE_BASE = [("artifact", "source_run"), ("eval_id", None), ("template", "template_text"),
                ("persona_pair", "persona_pair_id"), ("scenario_id", "scenario_id"), ("pos_persona", "pos_persona"),
                ("neg_persona", "neg_persona"), ("row", "row_idx"), ("source", None), ("config", None),
                ("prompt", "scenario_text"), ("pos_generation_prompt", "pos_prompt"),
                ("neg_generation_prompt", "neg_prompt"), ("error", "error")]
EXAMPLE_JUDGED = [("strict_pass", "strict_pass"), ("axis_judge_models", "judge_models"),
                  ("axis_judgments", "axis_judgments"), ("axis_delta", "axis_delta"),
                  ("axis_delta_judge_mean", "axis_delta_judge_mean"), ("axis_delta_judge_std", "axis_delta_judge_std"),
                  ("axis_judge_mean_abs_disagreement", "axis_judge_mean_abs_disagreement"),
                  ("positive_delta", "positive_delta"), ("negative_delta", "negative_delta"),
                  ("off_axis_problem", "off_axis_problem"), ("max_off_axis_category_likert", "max_off_axis_category_likert"),
                  ("usable_for_training", "is_usable_for_training"), ("likely_spurious_axis", "likely_spurious_axis"),
                  ("max_style_abs_delta", "max_style_abs_delta"), ("word_delta_frac", "word_delta_frac"),
                  ("response_token_jaccard", "response_token_jaccard"),
                  ("pos_repeated_token_frac", "pos_repeated_token_frac"),
                  ("neg_repeated_token_frac", "neg_repeated_token_frac"), ("persona_echo", "has_persona_echo"),
                  ("judge_persona_echo", "has_judge_persona_echo"), ("pos_persona_echo_hits", "pos_persona_echo_hits"),
                  ("neg_persona_echo_hits", "neg_persona_echo_hits"), ("pos_persona_overlap_tokens", None),
                  ("neg_persona_overlap_tokens", None), ("refusal_or_ai_break", "has_refusal_or_ai_break"),
                  ("judge_refusal_or_ai_break", "has_judge_refusal_or_ai_break"),
                  ("pos_refusal_phrase_hits", "pos_refusal_phrase_hits"),
                  ("neg_refusal_phrase_hits", "neg_refusal_phrase_hits"), ("pos_response", "pos_response"),
                  ("neg_response", "neg_response")]
# an anchored measurement's judged keys (upstream's anchored export): the side deltas replace the
# positive/negative deltas, and the baseline answer follows the two poles
_SIDES = EXAMPLE_JUDGED.index(("positive_delta", "positive_delta"))
EXAMPLE_JUDGED_ANCHORED = (EXAMPLE_JUDGED[:_SIDES] + [("delta_pos_vs_base", "delta_pos_vs_base"),
                                                      ("delta_base_vs_neg", "delta_base_vs_neg"),
                                                      ("min_side_delta", "min_side_delta")]
                           + EXAMPLE_JUDGED[_SIDES + 2:] + [("base_response", "base_response")])
# a v2 export's examples keys (upstream's v2 script): no run ids, generation prompts or judge panel
V2_EXAMPLE_KEYS = ["artifact", "template", "persona_pair", "pos_persona", "neg_persona", "row", "source", "config",
                   "prompt", "error", "strict_pass", "axis_delta", "positive_delta", "negative_delta",
                   "off_axis_problem", "usable_for_training", "likely_spurious_axis", "max_style_abs_delta",
                   "word_delta_frac", "persona_echo", "refusal_or_ai_break", "pos_response", "neg_response"]

EXAMPLES_SQL = f"""
select e.*, coalesce(e.exported_is_strict_pass, e.is_strict_pass) as strict_pass,
       e.exported_axis_judgments::json as axis_judgments, r.record::varchar as record_text, judges.per_judge,
from main.examples e
left join (select measurement_id, pair_id, any_value(record order by loaded_at, line_no) as record,
                  min(line_no) as line_no
           from raw.exported_pairs group by all) r using (measurement_id, pair_id)
left join ({PER_JUDGE_SQL}) as judges using (pair_id)
where e.measurement_id = ?
order by r.line_no nulls last, e.source_run nulls first, e.row_idx nulls first, e.pair_id
"""


def _round(key: str, value):
    if value is None or isinstance(value, bool):
        return value
    if key in INTEGERS and isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, float):
        return round(value, 4)
    return value


def _dims(row: dict, prefix: str, suffix: str = "") -> list[str]:
    return sorted(k for k, v in row.items() if k.startswith(prefix) and k.endswith(suffix) and v is not None)


def stats_rows(con, measurement: str, level: str, v2: bool, anchored: bool = False) -> list[dict]:
    """Upstream's stats rows of one measurement at level template_pair or template, in its order;
    an anchored measurement's in upstream's anchored keys and sort (min_side_delta before axis_delta)."""
    if level == "template_pair":
        sql = "select *, export_recommended as is_rec from main.template_pair_scores where measurement_id = ?"
        group = [("template", "template_text"), ("persona_pair", "persona_pair_id")]
    else:
        sql = "select *, recommended as is_rec from main.template_scores where measurement_id = ?"
        group = [("template", "template_text")]
    cur = con.execute(sql, [measurement])
    names = [d[0] for d in cur.description]
    out = []
    for values in cur.fetchall():
        row = dict(zip(names, values))
        if not row.get("n"):
            continue                                   # no successful pair: upstream has no group
        rec = {key: row[col] for key, col in group}
        for key in ANCHORED_STATS_KEYS if anchored else STATS_KEYS:
            if v2 and key in V3_ONLY:
                continue
            value = row.get(key)
            rec[key] = sorted(value) if key in ("strict_pass_persona_pairs", "common_spurious_axes") \
                else _round(key, value)
        for column in _dims(row, "mean_style_delta_", "_pos_minus_neg"):
            rec[column] = _round(column, row[column])
        if not v2:
            for column in _dims(row, "mean_off_axis_"):
                if column != "mean_off_axis_problem":
                    rec[column] = _round(column, row[column])
        rec["recommended"] = bool(row["is_rec"])
        out.append(rec)
    # upstream's sort (a stable sort, reversed); its ties keep the artifact's first appearance, which the
    # marts do not hold: ours fall back to the group keys
    out.sort(key=lambda r: tuple(r[k] for k, _ in group))
    side = ["mean_min_side_delta"] if anchored else []
    out.sort(key=lambda r: (r["recommended"], r["strict_pass_rate"], *(r[k] for k in side), r["mean_axis_delta"],
                            -r["mean_off_axis_problem"], -r["mean_max_style_abs_delta"]), reverse=True)
    return out


def example_rows(con, measurement: str, v2: bool, run: dict | None = None) -> list[dict]:
    """Upstream's examples rows of one measurement; `run` is its measurements-mart row (protocol,
    exclude_confound_dims)."""
    anchored = (run or {}).get("protocol") == "anchored"
    judged = EXAMPLE_JUDGED_ANCHORED if anchored else EXAMPLE_JUDGED
    cur = con.execute(EXAMPLES_SQL, [measurement])
    names = [d[0] for d in cur.description]
    out = []
    for values in cur.fetchall():
        row = dict(zip(names, values))
        record = json.loads(row["record_text"]) if row.get("record_text") else {}
        if isinstance(row.get("axis_judgments"), str):
            row["axis_judgments"] = json.loads(row["axis_judgments"])
        elif anchored and not row["is_error"]:   # a collected or artifact pair: its stored judge objects
            row["axis_judgments"] = axis_judgments(row.get("ratings"), row.get("per_judge")) or None
        failed = bool(row["is_error"])
        keys = EXAMPLE_BASE + ([] if failed else judged)
        rec = {key: _round(key, row.get(col) if col else record.get(key)) for key, col in EXAMPLE_BASE}
        if failed and not rec["error"]:
            rec["error"] = row.get("partial_judge_error") or "pair failed (no successful judgment)"
        if anchored:     # the run's setting, on every row (a failed pair was screened under it too)
            rec["exclude_confound_dims"] = sorted(run.get("exclude_confound_dims") or [])
        rec |= {key: _round(key, row.get(col) if col else record.get(key)) for key, col in keys[len(EXAMPLE_BASE):]}
        if not failed:
            for dim, value in sorted((row.get("style_deltas") or {}).items()):
                rec[f"style_delta_{dim}_pos_minus_neg"] = value
            for dim, value in sorted((row.get("off_axis_likerts") or {}).items()):
                rec[f"off_axis_{dim}"] = value
        if record:   # an exported pair: upstream's file had exactly the record's keys, in its order
            rec = {k: rec[k] if k in rec else record[k] for k in record}
        elif v2:
            rec = {k: v for k, v in rec.items() if k in V2_EXAMPLE_KEYS or k.startswith("style_delta_")}
        out.append(rec)
    return out


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def csv_text(rows: list[dict]) -> str:
    """Upstream's CSV: columns sorted, lists and objects as JSON, Python's text for the rest."""
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=sorted({k for r in rows for k in r}))
    writer.writeheader()
    for r in rows:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                         for k, v in r.items()})
    return buf.getvalue()


def measurement_row(con, measurement: str) -> dict:
    """The measurement's row of the measurements mart (its format, protocol and run settings)."""
    cur = con.execute("select * from main.measurements where measurement_id = ?", [measurement])
    return dict(zip([d[0] for d in cur.description], cur.fetchone()))


def measurement_files(con, measurement: str) -> dict[str, str]:
    run = measurement_row(con, measurement)
    v2 = run["source_format"] == "examples_v2"
    anchored = run.get("protocol") == "anchored"
    pairs, templates = (stats_rows(con, measurement, level, v2, anchored) for level in ("template_pair", "template"))
    return {f"{measurement}_examples.jsonl": jsonl(example_rows(con, measurement, v2, run)),
            f"{measurement}_template_pair_stats.jsonl": jsonl(pairs),
            f"{measurement}_template_pair_stats.csv": csv_text(pairs),
            f"{measurement}_template_stats.jsonl": jsonl(templates),
            f"{measurement}_template_stats.csv": csv_text(templates)}


def export_stats(db: Path, out: Path, measurements: list[str] | None = None) -> list[str]:
    """Write the files of each measurement (default: all) into `out`; returns the file names."""
    with connect(db, read_only=True) as con:
        try:
            known = [m for (m,) in con.execute("select measurement_id from main.measurements order by 1").fetchall()]
        except Exception:
            raise UserError(f"{db}: no built marts; run `psw build` first") from None
        chosen = measurements or known
        unknown = [m for m in chosen if m not in known]
        if unknown:
            raise UserError(f"--measurement {unknown[0]}: no such measurement (have: {', '.join(known) or 'none'})")
        files = {}
        for m in chosen:
            files.update(measurement_files(con, m))
    check_texts(files)                                  # the one secret scanner, before anything is written
    outdir.check_out(out, lambda d: (d / ".psw-export-stats").exists(), "was not written by `psw export-stats`")

    def fill(tmp: Path) -> None:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        (tmp / ".psw-export-stats").write_text("written by `psw export-stats`\n")

    outdir.replace_folder(out, fill)
    return sorted(files)
