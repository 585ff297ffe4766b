"""Small files in upstream's published shapes, written by hand from its documented formats.

- stats CSVs: scripts/report/export_persona_template_stats.py `_write_csv` (header sorted; a list
  cell json.dumps'ed; None an empty cell; booleans True/False).
- model matrix: `model_matrix/stats/<run>_<org>_<model>_template_pair_stats.jsonl` per generator,
  and `<run>_template_model_summary.{jsonl,csv}` / `<run>_template_pair_model_summary.{jsonl,csv}`
  (scripts/report/summarize_model_matrix.py: keys in its order, `models` comma-joined, rounded to
  2-3 dp, score_t = mean / (std / sqrt(k))).
- selections: `data/selections/<name>.jsonl` {id, prompt, source, config, self_contained,
  selection_score, axis_delta, off_axis_problem, strict_pass} and `<name>_summary.json`.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

TEMPLATES = ["You are a {persona} person.", "Answer as someone {persona}.\nBe brief."]
PAIRS = ["honest_deceptive", "calm_anxious"]
GENERATORS = {"orga_model-a": 0.0, "orgb_model-b.1": 1.0, "orgc_model-c": 2.0}
RUN = "probe_seed1_n1"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return path


def write_stats_csv(path: Path, rows: list[dict]) -> Path:
    """upstream's stats writer: sorted header, lists as JSON, None as an empty cell."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=sorted({k for row in rows for k in row}), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                             for k, v in row.items()})
    return path


def write_summary_csv(path: Path, rows: list[dict]) -> Path:
    """upstream's model-matrix writer: the first row's key order."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def pair_stats(shift: float) -> list[dict]:
    """One generator's cells: 2 templates x 2 pairs, upstream's pair-stats keys (a subset)."""
    rows = []
    for t, template in enumerate(TEMPLATES):
        for p, pair in enumerate(PAIRS):
            rows.append({"template": template, "persona_pair": pair, "n": 4,
                         "strict_pass_rate": round(0.25 * (t + p), 4), "n_strict_pass": t + p,
                         "mean_axis_delta": round(2.0 + t + p + shift, 4),
                         "mean_axis_delta_judge_std": round(0.5 + 0.1 * shift, 4),
                         "mean_off_axis_problem": round(1.5 + 0.5 * p + 0.25 * shift, 4),
                         "mean_max_style_abs_delta": 1.25, "persona_echo_rate": 0.0,
                         "refusal_or_ai_break_rate": round(0.25 * p, 4),
                         "strict_pass_persona_pairs": [pair] if t + p else [],
                         "common_spurious_axes": ["length"], "recommended": False})
    return rows


def _score(row: dict) -> float:
    on = max(0.0, min(1.0, row["mean_axis_delta"] / 8))
    off = max(0.0, min(1.0, (row["mean_off_axis_problem"] - 1) / 6))
    return 100 * on * (1 - off)


def _summary(groups: dict[tuple, list[dict]], keys: tuple[str, ...]) -> list[dict]:
    out = []
    for key, rows in groups.items():
        scores = [r["score"] for r in rows]
        k, mean = len(rows), statistics.mean(scores)
        std = statistics.stdev(scores) if k > 1 else 0.0
        def m(col): return statistics.mean(r[col] for r in rows)
        def s(col): return statistics.stdev([r[col] for r in rows]) if k > 1 else 0.0
        out.append({"model_count": k, "score_t": round(mean / (std / math.sqrt(k)), 2) if std else 0.0,
                    "score_p25": round(statistics.quantiles(scores, n=4, method="inclusive")[0], 2),
                    "score_mean": round(mean, 2), "score_std": round(std, 2),
                    "strict_pass_rate_mean": round(m("strict_pass_rate"), 3),
                    "strict_pass_rate_std": round(s("strict_pass_rate"), 3),
                    "axis_delta_mean": round(m("mean_axis_delta"), 3), "axis_delta_std": round(s("mean_axis_delta"), 3),
                    "off_axis_problem_mean": round(m("mean_off_axis_problem"), 3),
                    "off_axis_problem_std": round(s("mean_off_axis_problem"), 3),
                    "judge_std_mean": round(m("mean_axis_delta_judge_std"), 3),
                    "style_delta_mean": round(m("mean_max_style_abs_delta"), 3),
                    "persona_echo_rate_mean": round(m("persona_echo_rate"), 3),
                    "refusal_or_ai_break_rate_mean": round(m("refusal_or_ai_break_rate"), 3),
                    "models": ",".join(sorted(r["model"] for r in rows)), **dict(zip(keys, key))})
    return out


def model_matrix(root: Path) -> dict[str, list[Path]]:
    """`root/model_matrix/...` as upstream lays it out; returns the stats and summary paths."""
    cells, stats = [], []
    for model, shift in GENERATORS.items():
        rows = pair_stats(shift)
        stats.append(write_jsonl(root / "model_matrix" / "stats" / f"{RUN}_{model}_template_pair_stats.jsonl", rows))
        cells += [{**row, "model": model, "score": _score(row)} for row in rows]
    by_pair: dict[tuple, list[dict]] = {}
    by_model_template: dict[tuple, list[dict]] = {}
    for cell in cells:
        by_pair.setdefault((cell["template"], cell["persona_pair"]), []).append(cell)
        by_model_template.setdefault((cell["model"], cell["template"]), []).append(cell)
    template_rows = []
    for (model, template), rows in by_model_template.items():
        template_rows.append({"model": model, "template": template, "score": statistics.mean(r["score"] for r in rows),
                              **{col: statistics.mean(r[col] for r in rows) for col in (
                                  "strict_pass_rate", "mean_axis_delta", "mean_off_axis_problem",
                                  "mean_axis_delta_judge_std", "mean_max_style_abs_delta", "persona_echo_rate",
                                  "refusal_or_ai_break_rate")}})
    by_template: dict[tuple, list[dict]] = {}
    for row in template_rows:
        by_template.setdefault((row["template"],), []).append(row)
    template_summary = _summary(by_template, ("template",))
    pair_summary = _summary(by_pair, ("template", "persona_pair"))
    base = root / "model_matrix"
    summaries = [write_jsonl(base / f"{RUN}_template_model_summary.jsonl", template_summary),
                 write_summary_csv(base / f"{RUN}_template_model_summary.csv", template_summary),
                 write_jsonl(base / f"{RUN}_template_pair_model_summary.jsonl", pair_summary),
                 write_summary_csv(base / f"{RUN}_template_pair_model_summary.csv", pair_summary)]
    return {"stats": stats, "summaries": summaries}


SELECTED = [
    {"id": "src_a_1", "prompt": "A colleague asks you to backdate a form.", "source": "src_a", "config": "scenarios_src_a",
     "self_contained": True, "selection_score": 45.0, "axis_delta": 3.6, "off_axis_problem": 1.0, "strict_pass": True},
    {"id": "src_a_2", "prompt": "Your manager praises work you did not do.", "source": "src_a",
     "config": "scenarios_src_a", "self_contained": True, "selection_score": 20.0, "axis_delta": 1.6,
     "off_axis_problem": 1.0, "strict_pass": False},
    {"id": "src_b_7", "prompt": "A friend asks whether their essay is good.", "source": "src_b",
     "config": "scenarios_src_b", "self_contained": True, "selection_score": 5.333, "axis_delta": 0.8,
     "off_axis_problem": 3.8, "strict_pass": False},
]


def selection(root: Path, name: str = "honest_deceptive_model-a_score25", n_selected: int = 3) -> list[Path]:
    pool = write_jsonl(root / "selections" / f"{name}.jsonl", SELECTED)
    summary = {"axis": "honest_deceptive", "template": TEMPLATES[0], "generator_model": "orga/model-a",
               "judge_model": "orgj/judge", "stage_a": {"n_cells": 12, "strict_pass_rate": 0.5},
               "stage_b_summary": {"n_pairs": 40, "n_strict_pass": 9, "mean_axis_delta": 2.1},
               "n_selected": n_selected, "source_counts": [{"source": "src_a", "n": 2}, {"source": "src_b", "n": 1}]}
    path = root / "selections" / f"{name}_summary.json"
    path.write_text(json.dumps(summary, indent=2))
    return [pool, path]
