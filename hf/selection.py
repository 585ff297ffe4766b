"""`psw export-selection`: the training set a chosen cell supports, as JSONL plus a manifest.

Reads marts (`template_pair_scores`, `examples`, `layer_choice`, `pair_screening`) and the staging
views of scenarios and measurements; never a raw table. Per pair it writes the positive
and negative completions twice: `dpo.jsonl` (prompt / chosen / rejected, the prompt being the
scenario alone, so a model learns the positive behaviour without being told the persona) and
`steering.jsonl` (the exact messages each pole was generated from, then the completion: the
contrastive pairs a steering vector is extracted from). `manifest.json` records the cells, the
filters, the counts at each step and the files' sha256, so the set can be reproduced.

Filters, in order: judged pairs only (axis_delta > 0, no error, both completions non-empty);
strict_pass (default on); activation agreement (optional: drop the pairs `pair_screening` flags at
the cell's recommended layer, or --layer); persona_vectors' effective-pair rule (optional,
`--effective-only`: keep the pairs `pair_response_scores.is_effective_pair` holds true); per-source quotas (the first N pairs of each source by
axis_delta, then pair_id). Deterministic: rows in (cell_id, pair_id) order, fixed key order, no
dates or paths in the manifest; the same warehouse and options give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from hf.selection_write import FILES, check_out, write_atomically
from warehouse.errors import UserError

FORMAT = "psw-selection/1"
MESSAGE_RULES = {
    "recorded_messages": "the chat messages stored when the pair was generated (examples.pos_messages)",
    "recorded_prompt": "the stored generation prompt (examples.pos_prompt) as one user message",
    "reconstructed": "no prompt was stored: a system message with the template's {persona} filled "
                     "(the persona text for a template without a slot, none for the empty control "
                     "template), then the scenario as the user message; what `psw extract` uses, "
                     "not necessarily what the generator was sent",
}
SOURCE_RULE = ("the scenario's `source` in the scenarios file (by scenario id, else by text), else the "
               "pair's source run (examples.source_run, when the warehouse has it), else its measurement")


@dataclass(frozen=True)
class SelectionOptions:
    cells: tuple[str, ...] = ()
    measurements: tuple[str, ...] = ()
    strict: bool = True
    keep_per_source: int | None = None
    agreement: bool = False
    layer: int | None = None
    effective: bool = False


@dataclass
class CellPlan:
    info: dict
    pairs: list[dict] = field(default_factory=list)
    screening: dict | None = None
    effective: dict[str, bool | None] | None = None   # pair_id -> is_effective_pair, with --effective-only
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class SelectionReport:
    out: Path
    manifest: dict

    def summary(self) -> str:
        counts, chosen = self.manifest["counts"], self.manifest["selection"]
        steps = [f"{counts['candidates']} judged positive"]
        steps += [f"{counts['strict_pass']} strict pass"] if chosen["strict_pass"] else []
        if chosen["activation_agreement"]:
            steps.append(f"{counts['activation_agreement']} agree with the activations")
        if chosen.get("effective_pair"):
            steps.append(f"{counts['effective_pair']} effective (persona_vectors' rule)")
        steps += [f"{counts['quota']} within quotas"] if chosen["keep_per_source"] else []
        return (f"{self.out}: {counts['written']} pairs from {len(self.manifest['cells'])} cells "
                f"({', '.join(steps)}) -> {', '.join(FILES)}, manifest.json")


def export_selection(db: Path, out: Path, options: SelectionOptions) -> SelectionReport:
    if not db.exists():
        raise UserError(f"{db}: no warehouse here yet; run `psw ingest ...` then `psw build`")
    if options.keep_per_source is not None and options.keep_per_source < 1:
        raise UserError(f"--keep-per-source {options.keep_per_source}: must be at least 1")
    if options.layer is not None and not options.agreement:
        raise UserError(f"--layer {options.layer}: only with --agreement (the layer to screen at)")
    check_out(out)
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.IOException as exc:
        raise UserError(f"{db}: cannot open read-only ({str(exc).splitlines()[0]})") from None
    with con:
        have = _relations(con)
        _require(have, ["main.template_pair_scores", "main.examples", "staging.stg_raw__scenarios",
                        "staging.stg_raw__measurements"], db)
        plans = [CellPlan(info) for info in _choose_cells(con, options)]
        _load_pairs(con, plans, have)
        if options.agreement:
            _require(have, ["main.layer_choice", "main.pair_screening"], db)
            _load_screening(con, plans, options.layer)
        if options.effective:
            _require(have, ["main.pair_response_scores"], db)
            _load_effective(con, plans)
        measurements = _measurements(con, sorted({p.info["measurement_id"] for p in plans}))
    rows = [row for plan in plans for row in _select(plan, options)]
    files = {name: render(rows) for name, render in (("dpo.jsonl", dpo_lines), ("steering.jsonl", steering_lines))}
    manifest = _manifest(plans, rows, files, measurements, options)
    files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_atomically(out, files)
    return SelectionReport(out, manifest)


# --- reading -------------------------------------------------------------------------------

def _relations(con) -> dict[str, set[str]]:
    rows = con.execute("select table_schema || '.' || table_name, column_name "
                       "from information_schema.columns").fetchall()
    have: dict[str, set[str]] = {}
    for relation, column in rows:
        have.setdefault(relation, set()).add(column)
    return have


def _require(have: dict, relations: list[str], db: Path) -> None:
    missing = [r for r in relations if r not in have]
    if missing:
        raise UserError(f"{db}: {', '.join(missing)} missing; run `psw build`")


CELL_SQL = """
select cell_id, measurement_id, template_text, persona_pair_id, pos_persona, neg_persona, score,
       recommended, n,
from main.template_pair_scores
where (len($cells::varchar[]) = 0 and recommended or list_contains($cells::varchar[], cell_id))
  and (len($measurements::varchar[]) = 0 or list_contains($measurements::varchar[], measurement_id))
order by cell_id
"""


def _choose_cells(con, options: SelectionOptions) -> list[dict]:
    params = {"cells": list(options.cells), "measurements": list(options.measurements)}
    known = {r[0] for r in con.execute("select distinct measurement_id from main.examples").fetchall()}
    unknown = sorted(set(options.measurements) - known)
    if unknown:
        raise UserError(f"--measurement {', '.join(unknown)}: not in this warehouse "
                        f"(known: {', '.join(sorted(known)) or 'none'})")
    cursor = con.execute(CELL_SQL, params)
    names = [d[0] for d in cursor.description]
    cells = [dict(zip(names, r)) for r in cursor.fetchall()]
    missing = sorted(set(options.cells) - {c["cell_id"] for c in cells})
    if missing:
        where = f" in measurement {', '.join(options.measurements)}" if options.measurements else ""
        raise UserError(f"--cell {', '.join(missing)}: no such cell{where} (see template_pair_scores.cell_id)")
    if not cells:
        raise UserError("no recommended cells" + (f" in {', '.join(options.measurements)}" if options.measurements
                        else "") + "; name cells with --cell (see template_pair_scores)")
    return cells


def _pairs_sql(examples_columns: set[str]) -> str:
    # to_json: the same text whether the mart stores the messages as JSON or as a list of structs
    messages = ("to_json(pos_messages)::varchar as pos_messages, to_json(neg_messages)::varchar as neg_messages"
                if {"pos_messages", "neg_messages"} <= examples_columns
                else "null::varchar as pos_messages, null::varchar as neg_messages")
    run = "examples.source_run" if "source_run" in examples_columns else "null::varchar"
    return f"""
    select examples.pair_id, examples.cell_id, examples.measurement_id, examples.persona_pair_id,
           examples.template_text, examples.pos_persona, examples.neg_persona, examples.scenario_id,
           examples.scenario_text, examples.pos_prompt, examples.neg_prompt, {messages},
           examples.pos_response, examples.neg_response, examples.axis_delta, examples.is_strict_pass,
           coalesce(by_id.scenario_source, by_text.scenario_source, {run}, examples.measurement_id) as source,
    from main.examples as examples
    left join staging.stg_raw__scenarios as by_id on by_id.scenario_id = examples.scenario_id
    left join (select scenario_text, min(scenario_source) as scenario_source
               from staging.stg_raw__scenarios group by scenario_text) as by_text
        on by_text.scenario_text = examples.scenario_text
    where list_contains($cells, examples.cell_id)
      and not coalesce(examples.is_error, true)
      and examples.axis_delta > 0
      and length(trim(coalesce(examples.pos_response, ''))) > 0
      and length(trim(coalesce(examples.neg_response, ''))) > 0
    order by examples.cell_id, examples.pair_id
    """


def _load_pairs(con, plans: list[CellPlan], have: dict) -> None:
    cursor = con.execute(_pairs_sql(have["main.examples"]), {"cells": [p.info["cell_id"] for p in plans]})
    names = [d[0] for d in cursor.description]
    by_cell = {p.info["cell_id"]: p for p in plans}
    for values in cursor.fetchall():
        row = dict(zip(names, values))
        by_cell[row["cell_id"]].pairs.append(row)


SCREENING_VECTOR_SQL = """
select choice.cell_id, choice.vector_id, choice.layer, choice.model_id, choice.run_id,
       choice.recommendation_reason,
from main.layer_choice as choice
where choice.reduction = 'response_mean'
  and list_contains($cells::varchar[], choice.cell_id)
  and (($layer is null and choice.is_recommended) or choice.layer = $layer)
qualify row_number() over (partition by choice.cell_id order by choice.created_at desc, choice.run_id desc) = 1
"""


def _load_screening(con, plans: list[CellPlan], layer: int | None) -> None:
    cells = [p.info["cell_id"] for p in plans]
    cursor = con.execute(SCREENING_VECTOR_SQL, {"cells": cells, "layer": layer})
    names = [d[0] for d in cursor.description]
    chosen = {r[0]: dict(zip(names, r)) for r in cursor.fetchall()}
    missing = [c for c in cells if c not in chosen]
    if missing:
        what = f"vector at layer {layer}" if layer is not None else "recommended layer"
        cells_have = "cell " + missing[0] + " has" if len(missing) == 1 else f"cells {', '.join(missing)} have"
        raise UserError(f"--agreement: {cells_have} no {what} in layer_choice; run `psw extract vectors` "
                        f"(then `psw build`), or leave out --agreement")
    flags = con.execute(
        "select vector_id, pair_id, is_flagged, screening_flag from main.pair_screening "
        "where list_contains($vectors::varchar[], vector_id)", {"vectors": [v["vector_id"] for v in chosen.values()]}).fetchall()
    screened: dict[str, dict[str, str | None]] = {}
    for vector_id, pair_id, is_flagged, flag in flags:
        screened.setdefault(vector_id, {})[pair_id] = flag if is_flagged else None
    for plan in plans:
        vector = chosen[plan.info["cell_id"]]
        plan.screening = {**vector, "flags": screened.get(vector["vector_id"], {})}


def _load_effective(con, plans: list[CellPlan]) -> None:
    """The effective-pair flag (dbt's, never re-derived here) of every pair of the plans."""
    ids = [p["pair_id"] for plan in plans for p in plan.pairs]
    flags = dict(con.execute("select pair_id, is_effective_pair from main.pair_response_scores "
                             "where list_contains($ids::varchar[], pair_id)", {"ids": ids}).fetchall())
    if ids and all(flags.get(i) is None for i in ids):
        raise UserError("--effective-only: no pair of the chosen cells has trait and coherence scores; run "
                        "`psw extract judge --measurement ID --judge MODEL`, then `psw build`")
    for plan in plans:
        plan.effective = {p["pair_id"]: flags.get(p["pair_id"]) for p in plan.pairs}


def _measurements(con, ids: list[str]) -> list[dict]:
    cursor = con.execute(
        "select measurement_id, generator_model, judge_models, temperature, seed, source_format "
        "from staging.stg_raw__measurements where list_contains($ids::varchar[], measurement_id) "
        "order by measurement_id", {"ids": ids})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


# --- filtering -----------------------------------------------------------------------------

def _select(plan: CellPlan, options: SelectionOptions) -> list[dict]:
    pairs = plan.pairs
    plan.counts["candidates"] = len(pairs)
    if options.strict:
        pairs = [p for p in pairs if p["is_strict_pass"]]
    plan.counts["strict_pass"] = len(pairs)
    if plan.screening is not None:
        flags = plan.screening["flags"]
        plan.counts["no_activation_data"] = sum(p["pair_id"] not in flags for p in pairs)
        pairs = [p for p in pairs if p["pair_id"] in flags and flags[p["pair_id"]] is None]
    plan.counts["activation_agreement"] = len(pairs)
    if plan.effective is not None:
        plan.counts["not_judged_for_effective"] = sum(plan.effective.get(p["pair_id"]) is None for p in pairs)
        pairs = [p for p in pairs if plan.effective.get(p["pair_id"]) is True]
        plan.counts["effective_pair"] = len(pairs)
    if options.keep_per_source is not None:
        pairs = keep_per_source(pairs, options.keep_per_source)
    plan.counts["quota"] = len(pairs)
    plan.counts["written"] = len(pairs)
    return pairs


def keep_per_source(pairs: list[dict], n: int) -> list[dict]:
    """The first n pairs of each source, by axis_delta (largest first) then pair_id; input order kept."""
    ranked = sorted(pairs, key=lambda p: (-(p["axis_delta"] or 0), p["pair_id"]))
    kept: set[str] = set()
    per_source: dict[str, int] = {}
    for pair in ranked:
        if per_source.get(pair["source"], 0) < n:
            per_source[pair["source"]] = per_source.get(pair["source"], 0) + 1
            kept.add(pair["pair_id"])
    return [p for p in pairs if p["pair_id"] in kept]


# --- rows ----------------------------------------------------------------------------------

def pole_messages(pair: dict, pole: str) -> tuple[list[dict], str]:
    """The messages the `pole` (pos|neg) completion answered, and where they came from."""
    recorded = pair.get(f"{pole}_messages")
    if recorded is not None:
        try:
            messages = json.loads(recorded) if isinstance(recorded, str) else recorded
            if isinstance(messages, str):  # JSON text stored in a VARCHAR column
                messages = json.loads(messages)
        except json.JSONDecodeError:
            messages = None
        if not (isinstance(messages, list) and messages and all(
                isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                for m in messages)):
            raise UserError(f"examples.{pole}_messages of pair {pair['pair_id']}: not a list of {{role, content}}")
        return [{"role": m["role"], "content": m["content"]} for m in messages], "recorded_messages"
    if pair.get(f"{pole}_prompt"):
        return [{"role": "user", "content": pair[f"{pole}_prompt"]}], "recorded_prompt"
    template, persona = pair.get("template_text") or "", pair.get(f"{pole}_persona") or ""
    system = template.replace("{persona}", persona) if "{persona}" in template else (persona if template else "")
    head = [{"role": "system", "content": system}] if system else []
    return head + [{"role": "user", "content": pair["scenario_text"]}], "reconstructed"


def _meta(pair: dict) -> dict:
    return {"id": pair["pair_id"], "cell_id": pair["cell_id"], "measurement_id": pair["measurement_id"],
            "persona_pair_id": pair["persona_pair_id"], "scenario_id": pair["scenario_id"],
            "source": pair["source"], "axis_delta": pair["axis_delta"], "is_strict_pass": pair["is_strict_pass"]}


def _line(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": ")) + "\n"


def dpo_lines(pairs: list[dict]) -> str:
    return "".join(_line({
        **_meta(p),
        "prompt": [{"role": "user", "content": p["scenario_text"]}],
        "chosen": [{"role": "assistant", "content": p["pos_response"]}],
        "rejected": [{"role": "assistant", "content": p["neg_response"]}],
    }) for p in pairs)


def steering_lines(pairs: list[dict]) -> str:
    lines = []
    for p in pairs:
        pos, origin = pole_messages(p, "pos")
        neg, _ = pole_messages(p, "neg")
        lines.append(_line({
            **_meta(p), "messages_origin": origin,
            "positive": pos + [{"role": "assistant", "content": p["pos_response"]}],
            "negative": neg + [{"role": "assistant", "content": p["neg_response"]}],
        }))
    return "".join(lines)


# --- the manifest --------------------------------------------------------------------------

def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _manifest(plans: list[CellPlan], rows: list[dict], files: dict[str, str], measurements: list[dict],
              options: SelectionOptions) -> dict:
    stages = ["candidates", "strict_pass", "activation_agreement", *(["effective_pair"] if options.effective else []),
              "quota", "written"]
    origins: dict[str, int] = {}
    sources: dict[str, int] = {}
    for row in rows:
        origin = pole_messages(row, "pos")[1]
        origins[origin] = origins.get(origin, 0) + 1
        sources[row["source"]] = sources.get(row["source"], 0) + 1
    return {
        "format": FORMAT,
        "selection": {
            "cells": list(options.cells) or "recommended cells (template_pair_scores.recommended)",
            "measurements": list(options.measurements) or "all",
            "judged_positive": "no error, axis_delta > 0, both completions non-empty",
            "strict_pass": options.strict,
            "activation_agreement": (None if not options.agreement else {
                "layer": options.layer if options.layer is not None else "the cell's recommended layer",
                "reduction": "response_mean",
                "drops": "pairs pair_screening flags, and pairs without activation data"}),
            "keep_per_source": options.keep_per_source,
            "source": SOURCE_RULE,
            **({"effective_pair": "pair_response_scores.is_effective_pair: positive trait >= T, negative < T, both "
                                  "coherence >= C (dbt vars effective_pair_min_trait, effective_pair_min_coherence, "
                                  "default 50); drops pairs not judged"}
               if options.effective else {}),
        },
        "measurements": measurements,
        "cells": [{**plan.info, "counts": plan.counts,
                   "screening_vector": ({k: v for k, v in plan.screening.items() if k != "flags"}
                                        if plan.screening else None)} for plan in plans],
        "counts": {stage: sum(plan.counts[stage] for plan in plans) for stage in stages},
        "sources": sources,
        "messages": {"origins": origins, "rules": {k: MESSAGE_RULES[k] for k in sorted(origins)},
                     "dpo_prompt": "the scenario alone, as one user message"},
        "pair_ids_sha256": _sha256("\n".join(r["id"] for r in map(_meta, rows))),
        "files": {name: {"sha256": _sha256(text), "rows": text.count("\n")} for name, text in files.items()},
    }
