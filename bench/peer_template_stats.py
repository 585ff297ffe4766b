"""The peer psw is measured against: upstream's stats export, re-implemented in plain Python.

Upstream's `scripts/export_persona_template_stats.py` (persona-steering-template-library) reads
its validator's run artifacts into memory, groups the successful pairs by template and by
template x persona pair, and writes the stats as JSONL and CSV plus one examples row per pair.
This is the same work, written here, on the exported (flat) examples that psw's benchmark feeds
both tools: one dict per record held in memory, means rounded to 4 dp, the same rates, sets,
`recommended` rule and sort, the same four files. A field a record does not carry (v2 exports
have no pairwise or per-category columns) is averaged over the records that carry it.

    python bench/peer_template_stats.py EXAMPLES.jsonl... --out-prefix OUT/name
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path
from statistics import mean

STYLE = ("style_delta_", "_pos_minus_neg")
MEANS = ("axis_delta", "axis_delta_judge_mean", "axis_delta_judge_std", "axis_judge_mean_abs_disagreement",
         "positive_delta", "negative_delta", "pairwise_positive_delta", "pairwise_negative_delta",
         "off_axis_problem", "max_off_axis_category_likert", "max_style_abs_delta")
RATES = ("usable_for_training", "persona_echo", "judge_persona_echo", "refusal_or_ai_break",
         "judge_refusal_or_ai_break")
RATE_NAMES = {"usable_for_training": "usable_rate"}
LEXICAL = ("response_token_jaccard", "pos_repeated_token_frac", "neg_repeated_token_frac")


def read(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        with path.open() as lines:
            rows += [json.loads(line) for line in lines if line.strip()]
    return rows


def _mean(values: list) -> float | None:
    return round(mean(values), 4) if values else None


def _column(rows: list[dict], key: str, default=None) -> list[float]:
    return [float(r.get(key, default)) for r in rows if r.get(key, default) is not None]


def aggregate(rows: list[dict], keys: tuple[str, ...]) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if r.get("error") is None:
            groups[tuple(r[k] for k in keys)].append(r)
    out = []
    for key, rs in groups.items():
        n = len(rs)
        strict = [bool(r.get("strict_pass")) for r in rs]
        style_dims = sorted(k for k in rs[0] if k.startswith(STYLE[0]) and k.endswith(STYLE[1]))
        off_axis_dims = sorted(k for k in rs[0] if k.startswith("off_axis_") and k != "off_axis_problem")
        row = dict(zip(keys, key))
        row.update({"n": n, "strict_pass_rate": round(sum(strict) / n, 4), "n_strict_pass": sum(strict)})
        row.update({f"mean_{name}": _mean(_column(rs, name)) for name in MEANS})
        row["mean_abs_word_delta_frac"] = _mean([abs(v) for v in _column(rs, "word_delta_frac")])
        row.update({f"mean_{name}": _mean(_column(rs, name, 0.0)) for name in LEXICAL})
        row.update({RATE_NAMES.get(name, f"{name}_rate"): round(sum(bool(r.get(name)) for r in rs) / n, 4)
                    for name in RATES})
        row["strict_pass_persona_pairs"] = sorted({r["persona_pair"] for r in rs if r.get("strict_pass")})
        row["common_spurious_axes"] = sorted({r["likely_spurious_axis"] for r in rs if r.get("likely_spurious_axis")})
        row.update({f"mean_{dim}": _mean(_column(rs, dim)) for dim in style_dims})
        row.update({f"mean_{dim}": _mean(_column(rs, dim)) for dim in off_axis_dims})
        row["recommended"] = (n >= 4 and row["strict_pass_rate"] >= 0.5 and row["mean_axis_delta"] >= 3
                              and row["mean_off_axis_problem"] <= 2 and row["mean_max_style_abs_delta"] <= 2
                              and row["persona_echo_rate"] == 0 and row["refusal_or_ai_break_rate"] == 0)
        out.append(row)
    out.sort(key=lambda r: (r["recommended"], r["strict_pass_rate"], r["mean_axis_delta"],
                            -r["mean_off_axis_problem"], -r["mean_max_style_abs_delta"]), reverse=True)
    return out


def examples(rows: list[dict]) -> list[dict]:
    """One row per pair, as upstream re-exports them (the judged fields only where it succeeded)."""
    ident = ("artifact", "eval_id", "template", "persona_pair", "scenario_id", "pos_persona", "neg_persona", "row",
             "source", "config", "prompt", "pos_generation_prompt", "neg_generation_prompt", "error")
    out = []
    for r in rows:
        rec = {k: r.get(k) for k in ident}
        if r.get("error") is None:
            rec.update({k: v for k, v in r.items() if k not in rec})
        out.append(rec)
    return out


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_csv(path: Path, rows: list[dict]) -> None:
    fields = sorted({k for row in rows for k in row})
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                             for k, v in row.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="+", type=Path)
    parser.add_argument("--out-prefix", type=Path, required=True)
    args = parser.parse_args()
    rows = read(args.examples)
    template_stats = aggregate(rows, ("template",))
    pair_stats = aggregate(rows, ("template", "persona_pair"))
    prefix = args.out_prefix
    prefix.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(prefix.with_name(prefix.name + "_template_stats.jsonl"), template_stats)
    write_jsonl(prefix.with_name(prefix.name + "_template_pair_stats.jsonl"), pair_stats)
    write_jsonl(prefix.with_name(prefix.name + "_examples.jsonl"), examples(rows))
    write_csv(prefix.with_name(prefix.name + "_template_stats.csv"), template_stats)
    write_csv(prefix.with_name(prefix.name + "_template_pair_stats.csv"), pair_stats)
    print(f"examples={len(rows)} template_stats={len(template_stats)} pair_stats={len(pair_stats)}")


if __name__ == "__main__":
    main()
