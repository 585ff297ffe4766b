"""`psw export-hf --layout upstream`: upstream's own Hugging Face folder, from the marts.

The same splits, columns and card configs as upstream's `scripts/build_hf_dataset.py`:
`parquet/{main,template_pair_cells,persona_pairs,examples,controls}.parquet` and a README.md whose
one `default` config lists them. One measurement per folder (upstream's folder is one run):

| split | from |
|---|---|
| `template_pair_cells` | template_pair_scores (not control cells); `score` is upstream's on/off-axis score |
| `main` | upstream_summaries, level template_main |
| `persona_pairs` | upstream_summaries, level persona_pair, with the candidates' texts |
| `examples` | the examples mart in upstream's examples-file shape (hf/upstream_stats.py) |
| `controls` | the control cells in upstream's stats-file shape |

Lists and objects are JSON text with sorted keys, as upstream writes them. Provenance upstream
keeps outside its stats (source urls, template catalog notes, style judge) is null. Scanned for
secrets like every export; written whole or not at all. `psw import-hf` reads it back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hf import outdir
from hf.secret_scan import check_splits
from hf.upstream_stats import _round, example_rows, measurement_row, stats_rows
from warehouse.db import UserError, connect

SPLITS = ["main", "template_pair_cells", "persona_pairs", "examples", "controls"]
SCORE_FORMULA = "100 * on_axis * (1 - off_axis)"
MARKER = ".psw-export"
CELL_STATS = ["strict_pass_rate", "mean_axis_delta", "mean_axis_delta_judge_mean", "mean_axis_delta_judge_std",
              "mean_axis_judge_abs_disagreement", "mean_off_axis_problem", "mean_max_style_abs_delta",
              "mean_abs_word_delta_frac", "persona_echo_rate", "refusal_or_ai_break_rate", "usable_rate"]
MAIN_STATS = ["recommended_cell_count", "measured_persona_pair_count", "mean_axis_delta", "mean_axis_delta_judge_std",
              "mean_axis_judge_abs_disagreement", "mean_off_axis_problem", "mean_max_style_abs_delta"]
PAIR_BEST = ["n_measured_template_cells", "best_template", "best_n_success", "best_strict_pass_rate",
             "best_axis_delta", "best_off_axis_problem", "best_max_style_abs_delta"]


@dataclass
class Split:
    name: str
    table: pa.Table


def _rows(con, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _jinja(text: str) -> str:
    return text.replace("{persona}", "{{ persona }}")


def _slug(text: str) -> str:
    out = "".join(ch.lower() if ch.isalnum() else "_" for ch in text)
    while "__" in out:
        out = out.replace("__", "_")
    return out.strip("_")[:64]


def _meta(con, m: str) -> dict:
    row = _rows(con, "select generator_model, judge_models, temperature, seed, ab_blinding from main.measurements "
                     "where measurement_id = ?", [m])[0]
    judges = list(row["judge_models"] or [])
    return {"measurement_id": m, "generator_model": row["generator_model"],
            "judge_model": judges[0] if judges else None, "axis_judge_models": judges, "style_judge_model": None,
            "generation_temperature": row["temperature"], "seed": row["seed"], "judge_order": row["ab_blinding"],
            "judge_method": None}


def _cells(con, m: str, meta: dict) -> list[dict]:
    out = []
    for c in _rows(con, "select * from main.template_pair_scores where measurement_id = ? and not is_control "
                        "order by score_axis_off_axis desc, strict_pass_rate desc, mean_axis_delta desc, "
                        "template_text, persona_pair_id", [m]):
        out.append({"id": len(out) + 1, "template": c["template_jinja"], "score": c["score_axis_off_axis"],
                    "on_axis": c["on_axis"], "off_axis": c["off_axis"], "positive_persona": c["pos_persona"],
                    "negative_persona": c["neg_persona"], "contrast": c["axis"], "source": c["source_id"],
                    "source_type": None, "source_url": None, "template_source": None, "template_source_type": None,
                    "template_source_url": None, "template_source_note": None, "persona_pair": c["persona_pair_id"],
                    "positive_behavior": c["positive_behavior"], "negative_behavior": c["negative_behavior"],
                    "raw_template": c["template_text"],
                    "cell_key": f"{c['persona_pair_id']}::{_slug(c['template_text'])}", "template_format": "jinja2",
                    "measurement_id": m, "score_formula": SCORE_FORMULA, "recommended": bool(c["recommended"]),
                    "n_success": c["n_success"], "n_errors": c["n_errors"], "n_planned": c["n_planned"],
                    **{k: _round(k, c[k]) for k in CELL_STATS}, **meta})
    return out


def _main(con, m: str, meta: dict) -> list[dict]:
    out = []
    for t in _rows(con, "select * from main.upstream_summaries where level = 'template_main' and measurement_id = ? "
                        "and template_text in (select template_text from main.template_pair_scores "
                        "where measurement_id = ? and not is_control) "
                        "order by best_score desc, score desc, template_text", [m, m]):
        out.append({"id": len(out) + 1, "template": _jinja(t["template_text"]), "score": t["score"],
                    "best_score": t["best_score"], "best_persona_pair": t["best_persona_pair"], "source": None,
                    "source_type": None, "source_url": None, "raw_template": t["template_text"],
                    "template_key": _slug(t["template_text"]), "measurement_id": m, "template_format": "jinja2",
                    **{k: t[k] for k in MAIN_STATS}, **meta})
    return out


def _persona_pairs(con, m: str) -> list[dict]:
    out = []
    # the candidate's texts, else (a pair measured without a candidates file) the cells'
    sql = """select s.*, coalesce(p.pos_persona, c.pos_persona) as pos_persona,
                    coalesce(p.neg_persona, c.neg_persona) as neg_persona, p.positive_behavior, p.negative_behavior,
                    p.source_id
             from main.upstream_summaries s
             left join staging.stg_raw__persona_pairs p using (persona_pair_id)
             left join (select measurement_id, persona_pair_id, any_value(pos_persona) as pos_persona,
                               any_value(neg_persona) as neg_persona
                        from main.template_pair_scores group by all) c using (measurement_id, persona_pair_id)
             where s.level = 'persona_pair' and s.measurement_id = ? order by s.persona_pair_id"""
    for p in _rows(con, sql, [m]):
        summary = (f"best_template={p['best_template']}; score={p['best_score']}; n_success={p['best_n_success']}; "
                   f"pass={p['best_strict_pass_rate']}; axis_delta={p['best_axis_delta']}; "
                   f"off_axis={p['best_off_axis_problem']}; style={p['best_max_style_abs_delta']}"
                   if p["n_measured_template_cells"] else "no measured v2 pilot rows yet")
        out.append({"id": len(out) + 1, "persona_pair": p["persona_pair_id"],
                    "contrast": f"{p['neg_persona']}->{p['pos_persona']}", "best_score": p["best_score"],
                    "proof_grade": p["proof_grade"], "source": p["source_id"], "source_type": None,
                    "source_url": None, "positive_persona": p["pos_persona"], "negative_persona": p["neg_persona"],
                    "positive_behavior": p["positive_behavior"], "negative_behavior": p["negative_behavior"],
                    "proof_summary": summary, **{k: p[k] for k in PAIR_BEST},
                    "recommended_templates": json.dumps(list(p["recommended_templates"] or []), ensure_ascii=False)})
    return out


def _table(rows: list[dict]) -> pa.Table:
    """Upstream's _write_parquet: the keys in first-seen order, lists and dicts as sorted-key JSON text."""
    if not rows:
        return pa.table({})
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    as_json = lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, (dict, list)) else v  # noqa: E731
    return pa.Table.from_pylist([{k: as_json(r.get(k)) for k in keys} for r in rows])


def card(names: list[str]) -> str:
    files = "\n".join(f"  - split: {n}\n    path: parquet/{n}.parquet" for n in names)
    return ("---\nlicense: mit\nlanguage:\n- en\npretty_name: Persona Steering Template Library\nconfigs:\n"
            f"- config_name: default\n  data_files:\n{files}\n---\n\n# Persona Steering Template Library\n\n"
            "Written by `psw export-hf --layout upstream` in the layout of the persona steering template "
            "library's `build_hf_dataset.py`.\n\n"
            f"`score = {SCORE_FORMULA}`: `on_axis = clamp(mean_axis_delta / 8)`, "
            "`off_axis = clamp((mean_off_axis_problem - 1) / 6)`.\n\n"
            "1. `main`: one row per template.\n2. `template_pair_cells`: one row per measured template/persona-pair "
            "cell.\n3. `persona_pairs`: candidate persona pairs, with the best measured score where available.\n"
            "4. `examples`: paired completions and judge ratings behind the score.\n"
            "5. `controls`: control-template cells, kept apart from the template library.\n")


def export_upstream(db: Path, out: Path, measurements: list[str] | None = None) -> list[Split]:
    outdir.check_out(out, lambda d: (d / MARKER).is_file(), f"was not written by `psw export-hf` (no {MARKER} file)")
    with connect(db, read_only=True) as con:
        try:
            known = [r[0] for r in con.execute("select measurement_id from main.measurements order by 1").fetchall()]
            con.execute("select 1 from main.upstream_summaries limit 0")
        except Exception:
            raise UserError(f"{db}: no built marts; run `psw build` first") from None
        chosen = sorted(set(measurements or known))
        if len(chosen) != 1 or chosen[0] not in known:
            raise UserError(f"--layout upstream writes one measurement per folder (upstream's layout is one run): "
                            f"give --measurement one of {', '.join(known) or 'none'}")
        m = chosen[0]
        meta = _meta(con, m)
        run = measurement_row(con, m)
        fmt = run["source_format"]
        controls = [r for r in stats_rows(con, m, "template_pair", fmt == "examples_v2")
                    if r["template"] in {t for (t,) in con.execute(
                        "select template_text from main.template_pair_scores where measurement_id = ? and is_control",
                        [m]).fetchall()}]
        tables = {"main": _main(con, m, meta), "template_pair_cells": _cells(con, m, meta),
                  "persona_pairs": _persona_pairs(con, m), "examples": example_rows(con, m, fmt == "examples_v2", run),
                  "controls": controls}
    splits = [Split(name, _table(tables[name])) for name in SPLITS]
    text = card(SPLITS)
    check_splits(splits, text)

    def fill(tmp: Path) -> None:
        (tmp / "parquet").mkdir()
        for split in splits:
            pq.write_table(split.table, tmp / "parquet" / f"{split.name}.parquet", compression="zstd",
                           store_schema=False)
        (tmp / "README.md").write_text(text, encoding="utf-8")
        (tmp / MARKER).write_text("written by `psw export-hf --layout upstream`; a later export may replace it\n")

    outdir.replace_folder(out, fill)
    return splits
