"""`psw export-hf`: the marts as Hugging Face dataset splits, one parquet file each, plus a card.

Deterministic: every split is read with an ORDER BY over its keys, parquet is written with fixed
options and no schema metadata, and the card carries no date, so the same warehouse gives the
same bytes. Atomic: everything is written to a temporary folder beside --out and renamed into
place, so a failure leaves nothing half-written. Safe: every text value is scanned for secrets
before anything is written (hf/secret_scan.py), and --out is replaced only when it is empty or
holds this command's marker file (`.psw-export`), never someone else's dataset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from jinja2.sandbox import SandboxedEnvironment

from hf import outdir, source_splits
from hf.secret_scan import check_splits
from warehouse.db import DBT_DIR, UserError, connect

CARD_TEMPLATE = "card.md.j2"
DATA_DIR = "data"
MARKER = ".psw-export"   # a dot-file: kept out of uploads (push_folder ignores `.*`)
MARKER_TEXT = "written by `psw export-hf`; a later export may replace this folder\n"

# (split, mart or view, ORDER BY) for the splits that are not one per measurement
MEASURED_SPLITS = [
    ("template_pair_scores", "main.template_pair_scores", "score desc nulls last, id"),
    ("template_scores", "main.template_scores", "measurement_id, mean_score desc nulls last, id"),
    ("length_deltas", "main.length_deltas", "measurement_id, cell_id, grain, pair_id nulls first"),
]
SHARED_SPLITS = [
    ("persona_pair_review", "main.persona_pair_review", "best_score desc nulls last, persona_pair_id"),
]
# marts exported only when they have rows: (name, filtered to the chosen measurements)
OPTIONAL_SPLITS = [
    ("published_comparison", True), ("costs", True), ("adaptive_rounds", True),
    ("template_model_scores", False), ("template_pair_model_scores", False),
    ("activation_cell_stats", False), ("steering_summary", False), ("trait_geometry", False),
    ("projection_distribution", False), ("steered_outputs", False), ("pair_screening", False),
    ("layer_choice", False), ("imported_vectors", False),
]

CANDIDATE_SQL = {
    "persona_pairs": """select persona_pair_id, pos_persona, neg_persona, positive_behavior, negative_behavior,
                               source_id
                        from staging.stg_raw__persona_pairs order by persona_pair_id""",
    "templates": """select template_id, template_text, template_jinja
                    from staging.stg_raw__templates order by template_id""",
    "scenarios": """select scenario_id, scenario_text, scenario_source, scenario_config
                    from staging.stg_raw__scenarios order by scenario_id""",
}
CANDIDATE_MODELS = {"persona_pairs": "stg_raw__persona_pairs", "templates": "stg_raw__templates",
                    "scenarios": "stg_raw__scenarios"}

# One row per measurement: what the card shows and what import-hf needs to restore raw.measurements.
MEASUREMENTS_SQL = """
select measurement_id, generator_model, judge_models, temperature, seed, source_format, ab_blinding,
       protocol, exclude_confound_dims,
       n_cells, n_pairs as n_planned, n_successful_pairs as n_judged, n_error_pairs as n_failed,
from main.measurements
{where}
order by measurement_id
"""

# Descriptions for columns the dbt docs do not describe (staging views, the measurements split).
EXTRA_DOCS = {
    "persona_pair_id": "Persona pair id.",
    "pos_persona": "Positive persona descriptor.",
    "neg_persona": "Negative persona descriptor.",
    "positive_behavior": "What the positive persona should do.",
    "negative_behavior": "What the negative persona should do.",
    "source_id": "Attribution of the persona pair, when known.",
    "template_id": "Stable id of the template text (`tpl_` + md5).",
    "template_text": "The template with a `{persona}` slot.",
    "template_jinja": "The same template as Jinja2 with `{{ persona }}`.",
    "scenario_id": "Scenario id.",
    "scenario_text": "The scenario prompt.",
    "scenario_source": "Where the scenario came from, when known.",
    "scenario_config": "Scenario set / config name, when known.",
    "measurement_id": "The measured sweep (generator, judges, seed, temperature).",
    "generator_model": "Model that generated the completions.",
    "judge_models": "Judge models as a list.",
    "temperature": "Generation temperature.",
    "seed": "Sampling seed of the measurement.",
    "source_format": "Format the measurement was loaded from (examples_v2, examples_v3, artifact, collect, import).",
    "ab_blinding": "How the judges were blinded to which completion was positive.",
    "protocol": "The judging protocol: guide (the poles against each other) or anchored (each pole against a "
                "no-persona baseline answer).",
    "exclude_confound_dims": "Anchored protocol: the off-axis categories the run's gate left out.",
    "n_cells": "Measured cells (template x persona pair).",
    "n_planned": "Planned pairs (judged + failed).",
    "n_judged": "Pairs judged successfully.",
    "n_failed": "Pairs that failed (generation or judge error); counted, never scored.",
}


@dataclass
class Split:
    name: str
    model: str            # the dbt model whose docs describe its columns
    table: pa.Table
    map_columns: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"{DATA_DIR}/{self.name}.parquet"


@dataclass
class ExportReport:
    out: Path
    splits: list[Split]
    measurements: list[dict]

    def summary(self) -> str:
        rows = sum(s.table.num_rows for s in self.splits)
        return f"{self.out}: wrote {len(self.splits)} splits ({rows} rows) and README.md"


def split_name(measurement_id: str) -> str:
    """HF split names are word characters only: `v2_pilot_seed23` -> `v2_pilot_seed23_examples`."""
    return re.sub(r"\W+", "_", measurement_id).strip("_") + "_examples"


def export_library(db: Path, out: Path, measurements: list[str] | None = None) -> ExportReport:
    if not db.exists():
        raise UserError(f"{db}: no warehouse here yet; run `psw ingest ...` then `psw build`")
    _check_out(out)
    with connect(db, read_only=True) as con:
        _check_built(con, db)
        chosen = _choose_measurements(con, measurements)
        splits = _read_splits(con, chosen)
    measurements = next(s for s in splits if s.name == "measurements").table.to_pylist()
    card = render_card(splits, measurements)
    check_splits(splits, card)
    _write_atomically(out, splits, card)
    return ExportReport(out, splits, measurements)


def _check_out(out: Path) -> None:
    # only a folder this command wrote (its marker file) is replaced; a folder that merely looks
    # like a dataset may be someone else's
    outdir.check_out(out, lambda folder: (folder / MARKER).is_file(),
                     f"was not written by `psw export-hf` (no {MARKER} file)")


def _check_built(con, db: Path) -> None:
    have = {r[0] for r in con.execute(
        "select table_schema || '.' || table_name from information_schema.tables").fetchall()}
    needed = [rel for _, rel, _ in MEASURED_SPLITS + SHARED_SPLITS] + ["main.examples", "main.measurements"]
    needed += [f"staging.{model}" for model in CANDIDATE_MODELS.values()]
    missing = [rel for rel in needed if rel not in have]
    if missing:
        raise UserError(f"{db}: marts missing ({', '.join(missing)}); run `psw build` first")


def _choose_measurements(con, wanted: list[str] | None) -> list[str]:
    known = [r[0] for r in con.execute(
        "select distinct measurement_id from main.examples order by measurement_id").fetchall()]
    if not wanted:
        if not known:
            raise UserError("nothing to export: the warehouse has no measured pairs (main.examples is empty)")
        return known
    unknown = [m for m in wanted if m not in known]
    if unknown:
        raise UserError(f"--measurement {', '.join(unknown)}: not in this warehouse "
                        f"(known: {', '.join(known) or 'none'})")
    return sorted(set(wanted))


def _in_clause(column: str, values: list[str]) -> str:
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"where {column} in ({quoted})"


def _query(con, sql: str) -> pa.Table:
    return con.sql(sql).to_arrow_table()


def _select(con, relation: str, where: str, order: str) -> tuple[pa.Table, list[str]]:
    """All columns, MAP columns as list<struct<key, value>> (datasets reads those; it does not read maps)."""
    columns = con.execute(f"describe {relation}").fetchall()
    maps = [name for name, type_, *_ in columns if type_.startswith("MAP(")]
    items = [f'map_entries("{name}") as "{name}"' if name in maps else f'"{name}"' for name, *_ in columns]
    table = _query(con, f"select {', '.join(items)} from {relation} {where} order by {order}")
    return table, maps


def _read_splits(con, measurements: list[str]) -> list[Split]:
    splits = []
    for name, relation, order in MEASURED_SPLITS:
        table, maps = _select(con, relation, _in_clause("measurement_id", measurements), order)
        splits.append(Split(name, name, table, maps))
    for name, relation, order in SHARED_SPLITS:
        table, maps = _select(con, relation, "", order)
        splits.append(Split(name, name, table, maps))
    for measurement in measurements:
        where = _in_clause("measurement_id", [measurement])
        table, maps = _select(con, "main.examples", where, "cell_id, pair_id")
        splits.append(Split(split_name(measurement), "examples", table, maps))
    for name, sql in CANDIDATE_SQL.items():
        splits.append(Split(name, CANDIDATE_MODELS[name], _query(con, sql)))
    meas = _query(con, MEASUREMENTS_SQL.format(where=_in_clause("measurement_id", measurements)))
    splits.append(Split("measurements", "measurements", meas))
    splits.extend(_optional_splits(con, measurements))
    # the raw records and their loads, so import-hf rebuilds the same marts (hf/source_splits.py)
    splits.extend(Split(name, "source", table) for name, table in source_splits.export_tables(con, measurements).items())
    names = [s.name for s in splits]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise UserError(f"measurement ids give clashing split names: {', '.join(clash)}")
    return splits


def _optional_splits(con, measurements: list[str]) -> list[Split]:
    splits = []
    for name, by_measurement in OPTIONAL_SPLITS:
        exists = con.execute("select count(*) from information_schema.tables where table_schema = 'main' "
                             "and table_name = ?", [name]).fetchall()[0][0]
        if not exists:
            continue
        table, maps = _select(con, f"main.{name}", _in_clause("measurement_id", measurements) if by_measurement
                              else "", "all")
        if table.num_rows:
            splits.append(Split(name, name, table, maps))
    return splits


# --- writing ---------------------------------------------------------------------------------

def write_parquet(table: pa.Table, path: Path) -> None:
    """Fixed writer options and no schema metadata: the same rows give the same bytes."""
    table = table.replace_schema_metadata(None)
    pq.write_table(table, path, compression="zstd", compression_level=3, use_dictionary=True,
                   write_statistics=True, data_page_version="1.0", version="2.6")


def _write_atomically(out: Path, splits: list[Split], card: str) -> None:
    def fill(tmp: Path) -> None:
        (tmp / DATA_DIR).mkdir()
        for split in splits:
            write_parquet(split.table, tmp / split.path)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        (tmp / MARKER).write_text(MARKER_TEXT, encoding="utf-8")

    outdir.replace_folder(out, fill)


def push_folder(out: Path, repo_id: str, token: str) -> str:
    """Upload an export folder to a HF dataset repo (created if missing); returns the repo URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
        api.upload_folder(folder_path=str(out), repo_id=repo_id, repo_type="dataset",
                          commit_message="psw export-hf", ignore_patterns=[".*", ".*/**"],
                          delete_patterns=[f"{DATA_DIR}/*.parquet"])    # splits no longer exported go too
    except Exception as exc:  # network, auth, permissions: one line, not a traceback
        raise UserError(f"--push {repo_id}: upload failed ({type(exc).__name__}: {exc}); "
                        f"the export is in {out}") from None
    return f"https://huggingface.co/datasets/{repo_id}"


# --- the card --------------------------------------------------------------------------------

def render_card(splits: list[Split], measurements: list[dict]) -> str:
    docs = column_docs()
    env = SandboxedEnvironment(loader=jinja2.FileSystemLoader(Path(__file__).parent),
                               keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                               undefined=jinja2.StrictUndefined)
    configs = [{"config_name": s.name, **({"default": True} if s.name == "template_pair_scores" else {}),
                "data_files": [{"split": s.name, "path": s.path}]} for s in splits]
    front = yaml.safe_dump({"pretty_name": "Persona steering template library",
                            "tags": ["persona-steering", "steering-vectors", "contrastive-pairs", "llm-judge"],
                            "configs": configs}, sort_keys=False, allow_unicode=True, width=1000)
    return env.get_template(CARD_TEMPLATE).render(
        front_matter=front.rstrip("\n"),
        measurements=[{**m, "examples_split": split_name(m["measurement_id"])} for m in measurements], score_doc=docs.get("examples", {}).get(
            "__doc_score__", ""),
        splits=[_split_view(s, docs) for s in splits])


def _split_view(split: Split, docs: dict[str, dict[str, str]]) -> dict:
    own = docs.get(split.model, {})
    columns = []
    for fld in split.table.schema:
        text = own.get(fld.name) or EXTRA_DOCS.get(fld.name) or _any_mart_doc(docs, fld.name) or ""
        if fld.name in split.map_columns:
            text = (text + " " if text else "") + "(A map, published as a list of {key, value}.)"
        columns.append({"name": fld.name, "type": str(fld.type), "description": " ".join(text.split())})
    return {"name": split.name, "path": split.path, "rows": split.table.num_rows,
            "description": " ".join(docs.get("__models__", {}).get(split.model, "").split()), "columns": columns}


def _any_mart_doc(docs: dict, column: str) -> str | None:
    for model in ("template_pair_scores", "examples", "template_scores", "persona_pair_review", "length_deltas"):
        if docs.get(model, {}).get(column):
            return docs[model][column]
    return None


def column_docs(dbt_dir: Path = DBT_DIR) -> dict[str, dict[str, str]]:
    """{model: {column: description}} from the dbt .yml files, with `doc()` blocks rendered.

    Also `docs['__models__'][model]` (model descriptions) and `docs['examples']['__doc_score__']`.
    Read from the project files rather than a build's manifest so the card does not depend on
    where or whether the warehouse was built."""
    blocks = {}
    for md in sorted((dbt_dir / "models").rglob("*.md")):
        for name, body in re.findall(r"{%\s*docs\s+(\w+)\s*%}(.*?){%\s*enddocs\s*%}", md.read_text(), re.S):
            blocks[name] = body.strip()
    env = SandboxedEnvironment()
    env.globals["doc"] = lambda name: blocks.get(name, "")

    def render(text: str | None) -> str:
        if not text:
            return ""
        try:
            return env.from_string(text).render()
        except jinja2.TemplateError:
            return text

    docs: dict[str, dict[str, str]] = {"__models__": {}}
    for path in sorted((dbt_dir / "models").rglob("*.yml")):
        spec = yaml.safe_load(path.read_text()) or {}
        for model in spec.get("models") or []:
            docs["__models__"][model["name"]] = render(model.get("description"))
            cols = docs.setdefault(model["name"], {})
            for col in model.get("columns") or []:
                cols[col["name"]] = render(col.get("description"))
    docs.setdefault("examples", {})["__doc_score__"] = blocks.get("score", "")
    return docs
