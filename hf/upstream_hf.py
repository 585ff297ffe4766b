"""Upstream's own Hugging Face folder (its `scripts/build_hf_dataset.py`), read by `psw import-hf`.

Upstream's folder holds `parquet/{main,template_pair_cells,persona_pairs,examples,controls}.parquet`
and a card whose one `default` config lists them. It is known by its splits (`template_pair_cells`,
`main` or `controls` beside `examples`) and checked by its columns before anything is written:

| split | becomes |
|---|---|
| `examples` | the measurement's exported pairs (raw.exported_pairs), every field kept |
| `template_pair_cells` | published numbers, level `template_pair_cell` (its `score` is upstream's on/off-axis score) |
| `main` | published numbers, level `template_main` (one row per template) |
| `persona_pairs` | published numbers, level `persona_pair`, and the persona-pair candidates |
| `controls` | published numbers, level `template_pair`, of the control-baseline measurement |

Upstream writes list and dict values as JSON text (sorted keys); the known structured fields are
parsed back. The measurement is `--measurement`, else the cells' `measurement_id`. The controls
are another run: measurement `control_baseline_seed<seed>` (upstream's own file name for them),
else `<measurement>_controls`; controls whose templates the examples hold (as `psw export-hf --layout
upstream` writes them) are this measurement's own control cells.
"""

from __future__ import annotations

import json

import pyarrow as pa

from ingest.measurements import MeasurementMeta
from warehouse.db import UserError

SPLITS = ("main", "template_pair_cells", "persona_pairs", "examples", "controls")
MARKERS = {"main", "template_pair_cells", "controls"}
REQUIRED_SPLITS = ("examples", "template_pair_cells")
# fields upstream stores as JSON text in parquet (its _jsonable: lists and dicts, sorted keys)
JSON_FIELDS = {"axis_judge_models", "axis_judgments", "pos_persona_echo_hits", "neg_persona_echo_hits",
               "pos_persona_overlap_tokens", "neg_persona_overlap_tokens", "pos_refusal_phrase_hits",
               "neg_refusal_phrase_hits", "strict_pass_persona_pairs", "common_spurious_axes",
               "recommended_templates", "off_axis_category_likerts", "style_deltas_pos_minus_neg"}
STR, NUM, BOOL = "text", "a number", "a boolean"
COLUMNS = {
    "examples": {"template": STR, "persona_pair": STR, "prompt": STR, "pos_response": STR, "neg_response": STR,
                 "axis_delta": NUM, "off_axis_problem": NUM, "max_style_abs_delta": NUM,
                 "usable_for_training": BOOL, "persona_echo": BOOL, "refusal_or_ai_break": BOOL},
    "template_pair_cells": {"raw_template": STR, "persona_pair": STR, "measurement_id": STR, "score": NUM,
                            "on_axis": NUM, "off_axis": NUM, "n_success": NUM, "strict_pass_rate": NUM,
                            "mean_axis_delta": NUM},
    "main": {"raw_template": STR, "score": NUM, "best_score": NUM},
    "persona_pairs": {"persona_pair": STR, "positive_persona": STR, "negative_persona": STR},
    "controls": {"template": STR, "persona_pair": STR, "n": NUM},
}
LEVELS = {"template_pair_cells": "template_pair_cell", "main": "template_main", "persona_pairs": "persona_pair",
          "controls": "template_pair"}


def is_upstream_hf(splits: dict) -> bool:
    return bool(MARKERS & set(splits))


def _kind(dtype: pa.DataType) -> str | None:
    if pa.types.is_null(dtype):
        return None                               # every value null: any kind
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_dictionary(dtype):
        return STR
    if pa.types.is_boolean(dtype):
        return BOOL
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return NUM
    return str(dtype)


def check(splits: dict) -> None:
    """The folder has upstream's splits and each needed column has upstream's type; one line if not."""
    missing = [name for name in REQUIRED_SPLITS if name not in splits]
    if missing:
        present = ", ".join(sorted(splits))
        raise UserError(f"upstream HF folder ({present}): missing split {missing[0]} "
                        f"(parquet/{missing[0]}.parquet); nothing imported")
    for name, columns in COLUMNS.items():
        if name not in splits:
            continue
        split = splits[name]
        schema = split.table.schema
        if not schema.names and split.table.num_rows == 0:
            continue                               # upstream writes an empty split as a table with no columns
        for column, want in columns.items():
            if column not in schema.names:
                raise UserError(f"{split.origin}: column {column} missing (upstream's {name} split has it); "
                                f"nothing imported")
            got = _kind(schema.field(column).type)
            if got is not None and got != want:
                raise UserError(f"{split.origin}: column {column} is {got}, expected {want}; nothing imported")


def _decoded(split, rows: list[dict], keep_null: tuple[str, ...] = ()) -> list[dict]:
    """Rows with upstream's JSON-text fields parsed back and the nulls parquet filled in dropped."""
    out = []
    for row_no, row in enumerate(rows, start=1):
        record = {}
        for key, value in row.items():
            if value is None and key not in keep_null:
                continue
            if key in JSON_FIELDS and isinstance(value, str):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError:
                    raise UserError(f"{split.origin} row {row_no}: column {key} is not the JSON text upstream "
                                    f"writes; nothing imported") from None
            record[key] = value
        out.append(record)
    return out


def _record_text(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)


def measurement_of(splits: dict, measurement: str | None) -> str:
    if measurement:
        return measurement
    cells = splits["template_pair_cells"]
    found = sorted({m for m in cells.table.column("measurement_id").to_pylist() if m})
    if len(found) != 1:
        raise UserError(f"{cells.origin}: column measurement_id holds {len(found)} measurements "
                        f"({', '.join(found[:3])}); give --measurement; nothing imported")
    return found[0]


def meta_of(splits: dict) -> MeasurementMeta:
    rows = splits["template_pair_cells"].table.slice(0, 1).to_pylist()
    if not rows:
        return MeasurementMeta()
    row = _decoded(splits["template_pair_cells"], rows)[0]
    judges = row.get("axis_judge_models") or ([row["judge_model"]] if row.get("judge_model") else [])
    temperature, seed = row.get("generation_temperature"), row.get("seed")
    return MeasurementMeta(row.get("generator_model"), [str(j) for j in judges],
                           float(temperature) if temperature is not None else None,
                           int(seed) if seed is not None else None)


def plan(splits: dict, measurement: str | None, load_cls) -> tuple[list, list[str]]:
    """The loads of an upstream HF folder (hf.importer.Load objects), and the splits not imported."""
    check(splits)
    m = measurement_of(splits, measurement)
    meta = meta_of(splits)
    loads = []
    examples = splits["examples"]
    records = _decoded(examples, examples.table.to_pylist(), keep_null=("error",))
    rows = [{"measurement_id": m, "line_no": i, "record": _record_text(r), "record_id": ""}
            for i, r in enumerate(records, start=1)]
    loads.append(load_cls("examples", examples, [("raw.exported_pairs", "record_id", rows)], m, meta,
                          {"imported_from": examples.origin, "layout": "upstream_hf"}))
    # controls measured in this run (their template among the examples) are this measurement's cells
    templates = {r.get("template") for r in records}
    in_run = "controls" in splits and "template" in splits["controls"].table.column_names and \
        set(splits["controls"].table.column("template").to_pylist()) <= templates
    controls_m = m if in_run else f"control_baseline_seed{meta.seed}" if meta.seed is not None else f"{m}_controls"
    for name, level in LEVELS.items():
        if name not in splits or splits[name].table.num_rows == 0:
            continue
        split = splits[name]
        target = controls_m if name == "controls" else m
        published = [{"record_id": "", "line_no": i, "measurement_id": target, "level": level,
                      "record": _record_text(r)}
                     for i, r in enumerate(_decoded(split, split.table.to_pylist()), start=1)]
        loads.append(load_cls("stats", split, [("raw.published_stats", "record_id", published)], target))
    if "persona_pairs" in splits:
        split = splits["persona_pairs"]
        candidates = []
        for i, r in enumerate(_decoded(split, split.table.to_pylist()), start=1):
            record = {"id": r.get("persona_pair"), "pos": r.get("positive_persona"), "neg": r.get("negative_persona"),
                      "positive_behavior": r.get("positive_behavior"), "negative_behavior": r.get("negative_behavior"),
                      "source_id": r.get("source")}
            record = {k: v for k, v in record.items() if v is not None}
            if not record.get("id"):
                raise UserError(f"{split.origin} row {i}: column persona_pair is empty; nothing imported")
            candidates.append({"record_id": "", "line_no": i, "persona_pair_id": record["id"],
                               "record": _record_text(record)})
        loads.append(load_cls("pairs", split, [("raw.persona_pairs", "record_id", candidates)]))
    skipped = sorted(n for n in splits if n not in SPLITS)
    return loads, skipped
