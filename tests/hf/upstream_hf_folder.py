"""Upstream's Hugging Face folder for a measurement, written by hand from its documented layout
(`scripts/build_hf_dataset.py`: five parquet splits, lists as sorted-key JSON text, a card whose
`default` config lists them) and its formulas (on_axis, off_axis, score; main and persona-pair
summaries of the cells). Built here from the reference pilot's published files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SPLITS = ["main", "template_pair_cells", "persona_pairs", "examples", "controls"]
META = {"measurement_id": "v2_pilot_seed23", "generator_model": "qwen/qwen3.5-27b",
        "judge_model": "google/gemini-3.1-flash-lite-preview",
        "axis_judge_models": ["google/gemini-3.1-flash-lite-preview"],
        "style_judge_model": "google/gemini-3.1-flash-lite-preview", "generation_temperature": 0.0, "seed": 23,
        "judge_order": "A/B labels randomized", "judge_method": "pairwise axis judges"}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open() if line.strip()]


def clamp(x: float) -> float:
    return max(0.0, min(1.0, x))


def jinja(template: str) -> str:
    return template.replace("{persona}", "{{ persona }}")


def cells(stats: list[dict], pairs: dict, examples: list[dict]) -> list[dict]:
    errors: dict = {}
    for r in examples:
        if r.get("error"):
            errors[(r["template"], r["persona_pair"])] = errors.get((r["template"], r["persona_pair"]), 0) + 1
    out = []
    for s in stats:
        p = pairs.get(s["persona_pair"], {})
        on = round(clamp(float(s.get("mean_axis_delta") or 0.0) / 8.0), 4)
        off = round(clamp((float(s.get("mean_off_axis_problem") or 7.0) - 1.0) / 6.0), 4)
        n_err = errors.get((s["template"], s["persona_pair"]), 0)
        out.append({"id": 0, "template": jinja(s["template"]), "score": round(100.0 * on * (1.0 - off), 1),
                    "on_axis": on, "off_axis": off, "positive_persona": p.get("pos"), "negative_persona": p.get("neg"),
                    "contrast": f"{p.get('neg', '')}->{p.get('pos', '')}", "source": p.get("source_id"),
                    "source_type": "source-listed candidate", "persona_pair": s["persona_pair"],
                    "positive_behavior": p.get("positive_behavior"), "negative_behavior": p.get("negative_behavior"),
                    "raw_template": s["template"], "cell_key": f"{s['persona_pair']}::x", "template_format": "jinja2",
                    "score_formula": "100 * on_axis * (1 - off_axis)", "recommended": bool(s.get("recommended")),
                    "n_success": int(s["n"]), "n_errors": n_err, "n_planned": int(s["n"]) + n_err,
                    **{k: s.get(k) for k in ("strict_pass_rate", "mean_axis_delta", "mean_axis_delta_judge_mean",
                                             "mean_axis_delta_judge_std", "mean_axis_judge_abs_disagreement",
                                             "mean_off_axis_problem", "mean_max_style_abs_delta",
                                             "mean_abs_word_delta_frac", "persona_echo_rate",
                                             "refusal_or_ai_break_rate", "usable_rate")}, **META})
    out.sort(key=lambda r: (r["score"], r["strict_pass_rate"], r["mean_axis_delta"]), reverse=True)
    for i, r in enumerate(out, start=1):
        r["id"] = i
    return out


def main_rows(cell_rows: list[dict]) -> list[dict]:
    by: dict = {}
    for r in cell_rows:
        by.setdefault(r["raw_template"], []).append(r)
    out = []
    for template, rows in by.items():
        n = len(rows)
        avg = lambda k: round(sum(float(r[k] or 0) for r in rows) / n, 4)  # noqa: E731
        out.append({"id": 0, "template": jinja(template), "score": round(sum(r["score"] for r in rows) / n, 1),
                    "best_score": rows[0]["score"], "best_persona_pair": rows[0]["persona_pair"],
                    "source": "wassname_v2_candidate", "raw_template": template, "template_key": "k",
                    "template_format": "jinja2", "recommended_cell_count": sum(r["recommended"] for r in rows),
                    "measured_persona_pair_count": n, "mean_axis_delta": avg("mean_axis_delta"),
                    "mean_axis_delta_judge_std": avg("mean_axis_delta_judge_std"),
                    "mean_axis_judge_abs_disagreement": avg("mean_axis_judge_abs_disagreement"),
                    "mean_off_axis_problem": avg("mean_off_axis_problem"),
                    "mean_max_style_abs_delta": avg("mean_max_style_abs_delta"), **META})
    out.sort(key=lambda r: (r["best_score"], r["score"]), reverse=True)
    return out


def pair_rows(pairs: list[dict], cell_rows: list[dict]) -> list[dict]:
    out = []
    for i, p in enumerate(pairs, start=1):
        rows = sorted([r for r in cell_rows if r["persona_pair"] == p["id"]],
                      key=lambda r: (r["recommended"], r["score"], r["strict_pass_rate"]), reverse=True)
        best = rows[0] if rows else {}
        grade = "pilot_recommended" if any(r["recommended"] for r in rows) else \
            "pilot_measured_not_promoted" if rows else "candidate_unmeasured"
        out.append({"id": i, "persona_pair": p["id"], "contrast": f"{p['neg']}->{p['pos']}",
                    "best_score": best.get("score"), "proof_grade": grade, "source": p.get("source_id"),
                    "positive_persona": p["pos"], "negative_persona": p["neg"],
                    "positive_behavior": p.get("positive_behavior"), "negative_behavior": p.get("negative_behavior"),
                    "n_measured_template_cells": len(rows), "best_template": best.get("template"),
                    "best_n_success": best.get("n_success"), "best_strict_pass_rate": best.get("strict_pass_rate"),
                    "best_axis_delta": best.get("mean_axis_delta"),
                    "best_off_axis_problem": best.get("mean_off_axis_problem"),
                    "best_max_style_abs_delta": best.get("mean_max_style_abs_delta"),
                    "recommended_templates": json.dumps([r["raw_template"] for r in rows if r["recommended"]])})
    return out


def jsonable(value):
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, (dict, list)) else value


def write_split(path: Path, rows: list[dict]) -> None:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([{k: jsonable(r.get(k)) for k in keys} for r in rows]), path)


def card(names: list[str]) -> str:
    files = "\n".join(f"  - split: {n}\n    path: parquet/{n}.parquet" for n in names)
    return f"---\nlicense: mit\nconfigs:\n- config_name: default\n  data_files:\n{files}\n---\n\n# Library\n"


def write_folder(folder: Path, reference: Path, splits: list[str] = SPLITS) -> dict[str, list[dict]]:
    examples = read_jsonl(reference / "v2_pilot_seed23_examples.jsonl")
    pairs = read_jsonl(reference / "persona_pairs_v2_candidates.jsonl")
    cell_rows = cells(read_jsonl(reference / "v2_pilot_seed23_template_pair_stats.jsonl"),
                      {p["id"]: p for p in pairs}, examples)
    controls = [{"template": "", "persona_pair": "wellbeing_authority", "n": 4, "strict_pass_rate": 0.0,
                 "mean_axis_delta": 0.5, "common_spurious_axes": ["none"], "recommended": False}]
    tables = {"main": main_rows(cell_rows), "template_pair_cells": cell_rows, "persona_pairs": pair_rows(pairs, cell_rows),
              "examples": examples, "controls": controls}
    for name in splits:
        write_split(folder / "parquet" / f"{name}.parquet", tables[name])
    (folder / "README.md").write_text(card(splits))
    return tables
