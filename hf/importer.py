"""`psw import-hf`: load a published library into the raw layer, so `psw build` rebuilds the marts.

Four layouts are understood:
- this project's export with its `source_*` splits (the raw records and their loads): written
  back into raw as they were (hf/source_splits.py), a lossless round trip;
- upstream's own HF folder (`main`, `template_pair_cells`, `persona_pairs`, `examples`,
  `controls`): hf/upstream_hf.py;
- this project's export (`psw export-hf`) without source splits: `<measurement>_examples` splits with the examples
  mart's columns, a `measurements` split, and the candidate splits `persona_pairs`, `templates`,
  `scenarios`;
- the upstream persona-steering-template-library layout: `<measurement>_examples` splits whose
  rows already are v2/v3 exported-example records (`template`, `persona_pair`, `prompt`, ...),
  with the measurement metadata in its `template_pair_scores` split.

Examples rows go to raw.exported_pairs (the record shape `psw ingest` writes for an examples
export), candidates to raw.persona_pairs / raw.templates / raw.scenarios, metadata to
raw.measurements. Every split is read and checked before anything is written (exactly ingest's
checks, within row and byte caps: hf/import_checks.py); then everything is written in one
transaction. Derived splits (scores, reviews, lengths) are not imported: dbt derives them again.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from hf.import_checks import Caps, card_split_names, check_hub_reachable, check_loads, count_table, parquet_files, read_parquet
from warehouse import keys
from hf import source_splits, upstream, upstream_hf
from ingest.measurements import MeasurementMeta, conflicts as measurement_conflicts, insert as insert_measurement
from ingest.typed import ensure_current, fill_typed
from warehouse.append import append, transaction
from warehouse.messages import messages_json
from warehouse.db import UserError, connect

DERIVED_SPLITS = {"template_pair_scores", "template_scores", "persona_pair_review", "length_deltas",
                  "published_comparison", "costs", "adaptive_rounds", "template_model_scores",
                  "template_pair_model_scores", "steered_outputs",
                  "activation_cell_stats", "steering_summary", "trait_geometry", "projection_distribution",
                  "pair_screening", "layer_choice", "imported_vectors"}
SHARD = re.compile(r"-\d{5}-of-\d{5}$")
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

# examples mart column -> exported-record key (v2 shape)
EXPORT_FIELDS = [
    ("template_text", "template"), ("persona_pair_id", "persona_pair"), ("pos_persona", "pos_persona"),
    ("neg_persona", "neg_persona"), ("scenario_text", "prompt"), ("scenario_id", "scenario_id"),
    ("sample_idx", "sample"), ("source_run", "artifact"), ("row_idx", "row"), ("pos_prompt", "pos_generation_prompt"), ("neg_prompt", "neg_generation_prompt"),
    ("error", "error"), ("pos_response", "pos_response"), ("neg_response", "neg_response"),
    ("axis_delta", "axis_delta"), ("positive_delta", "positive_delta"), ("negative_delta", "negative_delta"),
    ("pairwise_positive_delta", "pairwise_positive_delta"), ("pairwise_negative_delta", "pairwise_negative_delta"),
    ("off_axis_problem", "off_axis_problem"), ("is_usable_for_training", "usable_for_training"),
    ("likely_spurious_axis", "likely_spurious_axis"), ("max_style_abs_delta", "max_style_abs_delta"),
    ("word_delta_frac", "word_delta_frac"), ("has_persona_echo", "persona_echo"),
    ("has_refusal_or_ai_break", "refusal_or_ai_break"), ("axis_delta_judge_std", "axis_delta_judge_std"),
    ("axis_judge_mean_abs_disagreement", "axis_judge_mean_abs_disagreement"),
]
REQUIRED = {
    "examples (psw export)": ["measurement_id", "template_text", "persona_pair_id", "scenario_text", "sample_idx",
                              "pos_response", "neg_response", "is_error", "error", "axis_delta", "off_axis_problem",
                              "max_style_abs_delta", "is_usable_for_training", "has_persona_echo",
                              "has_refusal_or_ai_break", "style_deltas"],
    "examples (upstream)": ["template", "persona_pair", "prompt", "pos_response", "neg_response", "axis_delta",
                            "off_axis_problem", "max_style_abs_delta", "usable_for_training", "persona_echo",
                            "refusal_or_ai_break"],
    "persona_pairs": ["persona_pair_id|id", "pos_persona|pos", "neg_persona|neg"],
    "templates": ["template_text|template"],
    "scenarios": ["scenario_id|id", "scenario_text|prompt|question|text"],
    "measurements": ["measurement_id"],
}


@dataclass
class SourceSplit:
    name: str
    table: pa.Table
    origin: str            # file path(s) or repo/config/split, for raw.loads.source_path
    sha256: str            # of the parquet bytes (local) or the Arrow IPC stream (datasets)


@dataclass
class Load:
    """One split's rows for one or more raw tables: becomes one raw.loads row (kind, measurement)."""
    kind: str
    split: SourceSplit
    tables: list[tuple[str, str, list[dict]]]      # (raw table, key column, rows)
    measurement_id: str | None = None
    meta: MeasurementMeta | None = None
    params: dict = field(default_factory=dict)

    @property
    def n_records(self) -> int:
        return len(self.tables[0][2])

    @property
    def load_id(self) -> str:
        return hashlib.sha256(f"{self.split.sha256}\0{self.kind}\0{self.measurement_id or ''}".encode()).hexdigest()


@dataclass
class ImportReport:
    source: str
    loads: list[Load]
    n_new: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    measured: list[str] = field(default_factory=list)

    def summary(self) -> str:
        measured = self.measured or sorted({ld.measurement_id for ld in self.loads if ld.measurement_id})
        parts = [f"{table} {n}" for table, n in self.n_new.items() if n]
        text = (f"{self.source}: imported measurement(s) {', '.join(measured)}; new raw rows: "
                f"{', '.join(parts) or 'none (already imported)'}")
        if self.skipped:
            text += f"; not imported (derived or unknown): {', '.join(self.skipped)}"
        return text + ". Run `psw build` to derive the marts."


def import_library(db: Path, source: str, caps: Caps | None = None,
                   measurement: str | None = None) -> ImportReport:
    splits = read_source(source, caps)
    if source_splits.has_sources(splits):    # the raw records themselves: a lossless rebuild (hf/source_splits.py)
        source_splits.check(splits)         # before the warehouse is opened: a refused library writes nothing
        with connect(db) as con:
            ensure_current(con)
            counts = source_splits.import_sources(con, splits)
        loads_table = splits[source_splits.LOADS].table
        measured = sorted({m for m in loads_table.column("measurement_id").to_pylist() if m})
        return ImportReport(source, [], counts, measured=measured,
                            skipped=[n for n in sorted(splits) if not n.startswith("source_")])
    loads, skipped = plan_loads(splits, source, measurement)
    check_loads(loads)
    report = ImportReport(source, loads, skipped=skipped)
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
    _canonical_record_ids(loads)
    with connect(db) as con:
        ensure_current(con)
        conflicts = [reject.reason for ld in loads if ld.measurement_id and ld.kind in ("examples", "judged")
                     for reject in measurement_conflicts(con, ld.measurement_id, ld.load_id, ld.split.origin,
                                                         ld.meta or MeasurementMeta())]
        if conflicts:
            raise UserError(f"{conflicts[0]}; nothing imported")
        with transaction(con):
            for ld in loads:
                if con.execute("select count(*) from raw.loads where load_id = ? and forgotten_at is null",
                               [ld.load_id]).fetchall()[0][0]:
                    continue
                con.execute("delete from raw.loads where load_id = ?", [ld.load_id])  # forgotten, imported again
                for table, key, table_rows in ld.tables:
                    rows = [{**row, "load_id": ld.load_id, "loaded_at": loaded_at} for row in table_rows]
                    # each load owns its rows (warehouse/schema.py): the key includes the load
                    n_new = append(con, table, rows, [key, "load_id"])
                    report.n_new[table] = report.n_new.get(table, 0) + n_new
                if ld.measurement_id and ld.kind != "stats":  # stats describe a measurement, not make one
                    insert_measurement(con, ld.measurement_id, ld.load_id, ld.meta or MeasurementMeta(),
                                       "import", ld.params, loaded_at)
                con.execute("insert into raw.loads (load_id, file_sha256, kind, source_path, measurement_id, "
                            "n_records, loaded_at) values (?, ?, ?, ?, ?, ?, ?)",
                            [ld.load_id, ld.split.sha256, ld.kind, ld.split.origin, ld.measurement_id,
                             ld.n_records, loaded_at])
            fill_typed(con)  # imported records typed as ingest types them
    return report


# the raw tables whose record ids hash the parsed record (warehouse.keys.record_id_sql), and
# whether the id includes the measurement
CANONICAL_IDS = {"raw.exported_pairs": True, "raw.published_stats": True, "raw.persona_pairs": False,
                 "raw.scenarios": False}


def _canonical_record_ids(loads: list[Load]) -> None:
    """Give imported records the ids `psw ingest` gives the same records (one query per table)."""
    for ld in loads:
        for table, _, rows in ld.tables:
            if table in CANONICAL_IDS and rows:
                measured = CANONICAL_IDS[table]
                ids = keys.record_ids([r.get("measurement_id") if measured else None for r in rows],
                                      [r["record"] for r in rows])
                for row, record_id in zip(rows, ids):
                    row["record_id"] = record_id


# --- reading ---------------------------------------------------------------------------------

def read_source(source: str, caps: Caps | None = None) -> dict[str, SourceSplit]:
    caps = caps or Caps.from_settings()
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UserError(f"{source}: not a folder (give an export folder or a HF dataset repo id)")
        if REPO_ID.match(source):   # say which: `owner/repo` also names a Hub dataset
            print(f"{source}: importing the local folder {path.resolve()}, not the Hub dataset", file=sys.stderr)
        return read_folder(path, caps)
    if REPO_ID.match(source):
        check_hub_reachable(source)
        return read_with_datasets(source, caps)
    raise UserError(f"{source}: no such folder, and not a HF dataset repo id (owner/name)")


def read_folder(folder: Path, caps: Caps | None = None) -> dict[str, SourceSplit]:
    """Parquet splits of a local folder, named by the card's `configs` when it has them, else by file name."""
    files = parquet_files(folder)
    if not files:
        raise UserError(f"{folder}: no parquet splits here (expected data/<split>.parquet, as `psw export-hf` "
                        f"writes); nothing imported")
    caps = caps or Caps.from_settings()
    by_split: dict[str, list[Path]] = {}
    named = card_split_names(folder, files)
    for file in files:
        name = named.get(file.resolve()) or SHARD.sub("", file.stem)
        by_split.setdefault(name, []).append(file)
    splits = {}
    for name, paths in sorted(by_split.items()):
        digest = hashlib.sha256()
        tables = []
        for p in paths:
            tables.append(read_parquet(p, caps))    # within the caps, before the bytes are hashed
            digest.update(p.read_bytes())
        table = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
        splits[name] = SourceSplit(name, table, ", ".join(str(p) for p in paths), digest.hexdigest())
    return splits


def read_with_datasets(repo: str, caps: Caps | None = None) -> dict[str, SourceSplit]:
    """Every config and split of a dataset through the datasets library (a Hub repo id or a local path).

    A repo whose one config holds splits of different schemas cannot be loaded by `datasets`;
    then its files are fetched with huggingface_hub and read like a local folder."""
    import datasets

    caps = caps or Caps.from_settings()
    try:
        configs = datasets.get_dataset_config_names(repo)
        loaded = {config: datasets.load_dataset(repo, config) for config in configs}
    except datasets.exceptions.DatasetGenerationError:
        return _read_repo_files(repo, caps)
    except Exception as exc:  # offline, unknown repo, no access: one line, not a traceback
        raise UserError(f"{repo}: could not load with the datasets library ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}); nothing imported") from None
    splits = {}
    for config, dataset_dict in loaded.items():
        for split, ds in dataset_dict.items():
            name = config if split == "train" and config != "default" else split
            count_table(ds.data.table, caps, f"{repo}:{config}/{split}")
            table = ds.data.table.combine_chunks()
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            splits[name] = SourceSplit(name, table, f"{repo}:{config}/{split}",
                                       hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest())
    if not splits:
        raise UserError(f"{repo}: no splits found; nothing imported")
    return splits


def _read_repo_files(repo: str, caps: Caps) -> dict[str, SourceSplit]:
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(repo, repo_type="dataset", allow_patterns=["*.parquet", "README.md"])
    except Exception as exc:
        raise UserError(f"{repo}: could not download ({type(exc).__name__}); nothing imported") from None
    return read_folder(Path(folder), caps)


# --- planning: check everything, build the raw rows -------------------------------------------

def plan_loads(splits: dict[str, SourceSplit], source: str,
               measurement: str | None = None) -> tuple[list[Load], list[str]]:
    if upstream_hf.is_upstream_hf(splits):      # upstream's own HF folder (hf/upstream_hf.py)
        return upstream_hf.plan(splits, measurement, Load)
    splits = upstream.rename_examples(splits, source, measurement)
    examples = {name: s for name, s in splits.items() if name.endswith("_examples")}
    if not examples:
        raise UserError(f"{source}: no `<measurement>_examples` split among {', '.join(sorted(splits))}; "
                        f"nothing imported")
    meta = _measurement_meta(splits)
    loads = []
    for name, split in sorted(examples.items()):
        loads.extend(_examples_loads(split, meta))
    for name in ("persona_pairs", "templates", "scenarios"):
        if name in splits:
            loads.append(_candidate_load(name, splits[name]))
    stats = upstream.stats_splits(splits)
    for name, split in sorted(stats.items()):
        m = upstream.stats_measurement(name, source, measurement)
        loads.append(Load("stats", split, [("raw.published_stats", "record_id", upstream.stats_rows(split, m))], m))
    skipped = sorted(n for n in splits if n not in examples and n not in stats
                     and n not in {"persona_pairs", "templates", "scenarios", "measurements"})
    return loads, skipped


def _check_columns(split: SourceSplit, what: str) -> None:
    have = set(split.table.column_names)
    missing = [req for req in REQUIRED[what] if not any(alt in have for alt in req.split("|"))]
    if missing:
        raise UserError(f"split {split.name} ({split.origin}): missing column(s) {', '.join(missing)} "
                        f"needed for {what}; nothing imported")


def _pick(row: dict, names: str):
    for name in names.split("|"):
        if row.get(name) is not None:
            return row[name]
    return None


def _examples_loads(split: SourceSplit, meta: dict[str, MeasurementMeta]) -> list[Load]:
    columns = set(split.table.column_names)
    ours = "template_text" in columns or "persona_pair_id" in columns or "measurement_id" in columns
    _check_columns(split, "examples (psw export)" if ours else "examples (upstream)")
    rows = split.table.to_pylist()
    by_measurement: dict[str, list[dict]] = {}
    judged = []
    if ours:
        for row in rows:
            if row.get("metrics_origin") == "judged":    # raw judge outputs on record: restore those
                judged.append(row)
            else:
                by_measurement.setdefault(row["measurement_id"], []).append(_record_from_mart(row))
    else:
        measurement = re.sub(r"[^A-Za-z0-9_.-]+", "_", split.name[: -len("_examples")])
        # parquet gives every row every column; a key the record did not have reads as null
        by_measurement[measurement] = [{k: v for k, v in row.items() if v is not None} for row in rows]
    loads = []
    for measurement, records in by_measurement.items():
        if not measurement:
            raise UserError(f"split {split.name} ({split.origin}): rows without a measurement_id; nothing imported")
        out = []
        for line_no, record in enumerate(records, start=1):
            text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
            out.append({"record_id": hashlib.md5((measurement + text).encode()).hexdigest(),
                        "measurement_id": measurement, "line_no": line_no, "record": text})
        m = meta.get(measurement) or meta.get("") or MeasurementMeta()
        loads.append(Load("examples", split, [("raw.exported_pairs", "record_id", out)], measurement, m,
                          {"imported_from": split.origin, "layout": "psw" if ours else "upstream"}))
    if ours:
        loads.extend(_judged_loads(split, judged, meta))
    return loads


def _judged_loads(split: SourceSplit, rows: list[dict], meta: dict[str, MeasurementMeta]) -> list[Load]:
    """Pairs measured from raw judge outputs (artifacts, `psw collect`) go back as raw.pairs + raw.judgments,
    with the keys ingest gives them, so dbt re-derives the same pair ids, ratings and metrics."""
    by_measurement: dict[str, tuple[list[dict], list[dict]]] = {}
    for row in rows:
        measurement = row["measurement_id"]
        m = meta.get(measurement) or meta.get("") or MeasurementMeta()
        pair = keys.pair_id(measurement, row["template_text"], row["persona_pair_id"], row["scenario_text"],
                            int(row.get("sample_idx") or 0), scenario_id=row.get("scenario_id"),
                            source_run=row.get("source_run"), row_idx=row.get("row_idx"))
        ratings = row.get("ratings") or []
        pairs, judgments = by_measurement.setdefault(measurement, ([], []))
        pairs.append({
            "pair_id": pair, "measurement_id": measurement, "template_text": row["template_text"],
            "persona_pair_id": row["persona_pair_id"], "pos_persona": row.get("pos_persona"),
            "neg_persona": row.get("neg_persona"), "scenario_id": row.get("scenario_id"),
            "scenario_text": row["scenario_text"], "sample_idx": int(row.get("sample_idx") or 0),
            "source_run": row.get("source_run"), "row_idx": row.get("row_idx"),
            "pos_label": next((r["pos_label"] for r in ratings if r.get("pos_label")), None),
            "pos_prompt": row.get("pos_prompt"), "neg_prompt": row.get("neg_prompt"),
            "pos_response": row.get("pos_response"), "neg_response": row.get("neg_response"),
            **{c: messages_json(row.get(c), f"split {split.name} ({split.origin}) pair {pair} {c}")
               for c in ("pos_messages", "neg_messages")},
            "generator_model": m.generator_model,
            # with no judge call on record the failure was the generation's; else dbt re-derives it
            "error": None if ratings else row.get("error"),
            "extra": json.dumps({"imported_from": split.origin}),
        })
        for r in ratings:
            content = r["output"] if r.get("raw_text") is None and r.get("error") is None \
                else (r.get("raw_text") or "") + "\x1f" + (r.get("error") or "")
            judgments.append({
                "judgment_id": keys.judgment_id(pair, r["judge_model"], r["prompt_hash"], r["criterion"], content),
                "pair_id": pair, "measurement_id": measurement, "judge_model": r["judge_model"],
                "criterion": r["criterion"], "prompt_hash": r["prompt_hash"], "pos_label": r["pos_label"],
                "output": r.get("output"), "raw_text": r.get("raw_text"), "error": r.get("error"),
            })
    loads = []
    for measurement, (pairs, judgments) in by_measurement.items():
        loads.append(Load("judged", split, [("raw.pairs", "pair_id", pairs), ("raw.judgments", "judgment_id", judgments)],
                          measurement, meta.get(measurement) or meta.get("") or MeasurementMeta(),
                          {"imported_from": split.origin, "layout": "psw"}))
    return loads


def _record_from_mart(row: dict) -> dict:
    """An examples-mart row back in the v2/v3 exported-examples shape that ingest loads."""
    record = {key: row.get(col) for col, key in EXPORT_FIELDS if col in row}
    if row.get("is_error") and not record.get("error"):
        record["error"] = row.get("partial_judge_error") or "pair failed (no successful judgment)"
    strict = row.get("exported_is_strict_pass")
    record["strict_pass"] = strict if strict is not None else row.get("is_strict_pass")
    if row.get("judge_models") is not None:
        record["axis_judge_models"] = list(row["judge_models"])
    for entry in row.get("style_deltas") or []:
        record[f"style_delta_{entry['key']}_pos_minus_neg"] = entry["value"]
    if row.get("exported_axis_judgments"):
        record["axis_judgments"] = json.loads(row["exported_axis_judgments"])
    return record


def _measurement_meta(splits: dict[str, SourceSplit]) -> dict[str, MeasurementMeta]:
    """measurement_id -> metadata, from a `measurements` split, else from template_pair_scores columns.
    The key '' holds metadata that applies to every measurement (one distinct value set)."""
    if "measurements" in splits:
        _check_columns(splits["measurements"], "measurements")
        source = splits["measurements"].table.to_pylist()
    elif "template_pair_scores" in splits:
        source = splits["template_pair_scores"].table.to_pylist()
    else:
        return {}
    found: dict[str, MeasurementMeta] = {}
    for row in source:
        judges = row.get("judge_models")
        if judges is None and row.get("judge_model"):
            judges = [j.strip() for j in str(row["judge_model"]).split(",") if j.strip()]
        seed = row.get("seed")
        temperature = row.get("temperature")
        m = MeasurementMeta(row.get("generator_model"), list(judges or []),
                            float(temperature) if temperature is not None else None,
                            int(seed) if seed is not None else None)
        found.setdefault(row.get("measurement_id") or "", m)
    if "" in found and len({repr(v) for v in found.values()}) > 1:
        del found[""]  # rows without a measurement id disagree: do not guess
    return found


def _candidate_load(name: str, split: SourceSplit) -> Load:
    _check_columns(split, name)
    out = []
    for line_no, row in enumerate(split.table.to_pylist(), start=1):
        if name == "templates":
            text = _pick(row, "template_text|template")
            if "{persona}" not in (text or ""):
                raise UserError(f"split templates ({split.origin}) row {line_no}: template has no {{persona}} slot; "
                                f"nothing imported")
            out.append({"record_id": hashlib.md5(text.encode()).hexdigest(), "line_no": line_no,
                        "template_text": text})
            continue
        if name == "persona_pairs":
            record = {"id": _pick(row, "persona_pair_id|id"), "pos": _pick(row, "pos_persona|pos"),
                      "neg": _pick(row, "neg_persona|neg"), "positive_behavior": row.get("positive_behavior"),
                      "negative_behavior": row.get("negative_behavior"), "source_id": row.get("source_id")}
            key_col = "persona_pair_id"
        else:
            record = {"id": _pick(row, "scenario_id|id"), "source": _pick(row, "scenario_source|source"),
                      "config": _pick(row, "scenario_config|config"),
                      "prompt": _pick(row, "scenario_text|prompt|question|text")}
            key_col = "scenario_id"
        record = {k: v for k, v in record.items() if v is not None}
        if not record.get("id"):
            raise UserError(f"split {name} ({split.origin}) row {line_no}: no id; nothing imported")
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        out.append({"record_id": hashlib.md5(text.encode()).hexdigest(), "line_no": line_no,
                    key_col: record["id"], "record": text})
    table = {"persona_pairs": "raw.persona_pairs", "templates": "raw.templates", "scenarios": "raw.scenarios"}[name]
    kind = {"persona_pairs": "pairs"}.get(name, name)
    return Load(kind, split, [(table, "record_id", out)])
