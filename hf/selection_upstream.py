"""`psw export-selection --format upstream`: upstream's `scripts/export_selections.py` JSONL.

One line per pair of one anchored measurement, the top N by `overall_score` (ties in the
measurement's row order), or with `--strict-only` the top N strict-pass pairs (refused when
fewer than N pass: rejected rows never pad a requested set). Keys, in upstream's order:
id, scenario_id, source, selected_family, self_contained, axis, template, prompt, pos_persona,
neg_persona, pos/neg/base_response, axis_delta, delta_pos_vs_base, delta_base_vs_neg,
min_side_delta, off_axis_problem_likert_gate, max_style_abs_delta, length_ok, overall_score,
strict_pass, then the `//` provenance keys (the measurement, its thresholds and excluded
confound dimensions, the psw version, the generator).

Every number is dbt's: per pair from the `examples` mart (the anchored protocol's columns,
`PAIR_COLUMNS` below: one place to follow the marts' names); the thresholds from the
`measurements` mart (`RUN_COLUMNS`), else as the measurement recorded them (its params, in the
staging view of measurements). A warehouse whose marts lack them is refused in one line naming them.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from hf.secret_scan import check_texts
from warehouse.errors import UserError

# upstream key -> examples column
PAIR_COLUMNS = {
    "base_response": "base_response", "axis_delta": "axis_delta", "delta_pos_vs_base": "delta_pos_vs_base",
    "delta_base_vs_neg": "delta_base_vs_neg", "min_side_delta": "min_side_delta",
    "off_axis_problem_likert_gate": "off_axis_problem_likert_gate", "max_style_abs_delta": "max_style_abs_delta",
    "length_ok": "is_length_ok", "overall_score": "overall_score", "strict_pass": "is_strict_pass",
}
# provenance key -> measurements column
RUN_COLUMNS = {
    "//axis_delta_threshold": "axis_delta_threshold", "//min_side_threshold": "min_side_threshold",
    "//off_axis_threshold": "off_axis_threshold", "//exclude_confound_dims": "exclude_confound_dims",
    "//max_word_delta_frac": "max_word_delta_frac",
}


def _columns(con, schema: str, table: str) -> set[str]:
    return {r[0] for r in con.execute("select column_name from information_schema.columns "
                                      "where table_schema = ? and table_name = ?", [schema, table]).fetchall()}


def _require(con, db: Path) -> None:
    run_from = _run_source(con)
    for schema, table, needed in (("main", "examples", [*PAIR_COLUMNS.values(), "row_idx"]),
                                  ("main", "measurements", [*(RUN_COLUMNS.values() if run_from == "mart" else ()),
                                                            "generator_model"])):
        have = _columns(con, schema, table)
        if not have:
            raise UserError(f"{db}: {table} missing; run `psw build`")
        missing = [c for c in needed if c not in have]
        if missing:
            raise UserError(f"--format upstream: {table} has no {', '.join(missing)} (the anchored protocol's "
                            f"columns: collect with --protocol anchored, then `psw build`)")


def _pairs(con, measurement: str) -> list[dict]:
    pair_cols = ", ".join(f"examples.{col} as \"{key}\"" for key, col in PAIR_COLUMNS.items())
    has_family = "selected_family" in _columns(con, "main", "examples")
    cursor = con.execute(f"""
        select examples.pair_id, examples.scenario_id, examples.persona_pair_id, examples.template_text,
               examples.scenario_text, examples.row_idx,
               coalesce(pp.pos_persona, examples.pos_persona) as pos_persona,
               coalesce(pp.neg_persona, examples.neg_persona) as neg_persona,
               scenarios.scenario_source, coalesce(scenarios.is_self_contained, false) as self_contained,
               {"examples.selected_family" if has_family else "null"} as selected_family,
               examples.pos_response, examples.neg_response, {pair_cols}
        from main.examples as examples
        left join staging.stg_raw__scenarios as scenarios on scenarios.scenario_id = examples.scenario_id
        left join staging.stg_raw__persona_pairs as pp on pp.persona_pair_id = examples.persona_pair_id
        where examples.measurement_id = ? and not coalesce(examples.is_error, true)
        order by examples.row_idx nulls last, examples.pair_id""", [measurement])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def _run_source(con) -> str:
    """Where the run's thresholds are read: the measurements mart's columns, else the settings the
    measurement recorded (staging.stg_raw__measurements.params, the keys of upstream's artifact)."""
    if set(RUN_COLUMNS.values()) <= _columns(con, "main", "measurements") \
            or "params" not in _columns(con, "staging", "stg_raw__measurements"):
        return "mart"
    return "params"


def _run(con, measurement: str) -> dict:
    if _run_source(con) == "mart":
        cols = ", ".join(f"{col} as \"{key}\"" for key, col in RUN_COLUMNS.items())
        source = "main.measurements as measurements"
    else:
        cols = ", ".join(f"recorded.params -> '{col}' as \"{key}\"" for key, col in RUN_COLUMNS.items())
        source = ("main.measurements as measurements "
                  "join staging.stg_raw__measurements as recorded using (measurement_id)")
    cursor = con.execute(f"select measurements.generator_model, {cols} from {source} where measurement_id = ?",
                         [measurement])
    row = cursor.fetchone()
    if row is None:
        raise UserError(f"--measurement {measurement}: not in this warehouse's measurements mart")
    return dict(zip([d[0] for d in cursor.description], row))


def rank(pairs: list[dict], top_n: int, strict_only: bool, keep_per_source: int | None = None) -> list[dict]:
    """Best overall_score first (a stable sort: ties keep the measurement's row order); with
    keep_per_source, at most that many of each scenario source (upstream's per-source cap,
    export_authority_steering_selection.py --keep-per-source), the best of each kept."""
    ranked = sorted(pairs, key=lambda p: -(p["overall_score"] if p["overall_score"] is not None else float("-inf")))
    if strict_only:
        ranked = [p for p in ranked if p["strict_pass"]]
    if keep_per_source is not None:
        seen: dict[str, int] = {}
        capped = []
        for p in ranked:
            source = str(p["scenario_source"])
            seen[source] = seen.get(source, 0) + 1
            if seen[source] <= keep_per_source:
                capped.append(p)
        ranked = capped
    if strict_only and len(ranked) < top_n:
        cap = f" within --keep-per-source {keep_per_source}" if keep_per_source is not None else ""
        raise UserError(f"--strict-only --top-n {top_n}: only {len(ranked)} pairs pass strict{cap}; screen more "
                        f"scenarios (rejected pairs never pad the selection)")
    return ranked[:top_n]


def line(pair: dict, run: dict, measurement: str, version: str) -> dict:
    def num(key):
        return None if pair[key] is None else float(pair[key])
    return {
        "id": pair["scenario_id"], "scenario_id": pair["scenario_id"], "source": pair["scenario_source"],
        "selected_family": pair["selected_family"], "self_contained": bool(pair["self_contained"]),
        "axis": pair["persona_pair_id"], "template": pair["template_text"], "prompt": pair["scenario_text"],
        "pos_persona": pair["pos_persona"], "neg_persona": pair["neg_persona"],
        "pos_response": pair["pos_response"], "neg_response": pair["neg_response"],
        "base_response": pair["base_response"],
        **{key: num(key) for key in ("axis_delta", "delta_pos_vs_base", "delta_base_vs_neg", "min_side_delta",
                                     "off_axis_problem_likert_gate", "max_style_abs_delta")},
        "length_ok": bool(pair["length_ok"]), "overall_score": num("overall_score"),
        "strict_pass": bool(pair["strict_pass"]),
        "//validation_input": measurement,
        **{key: _run_value(key, run[key]) for key in RUN_COLUMNS},
        "//validator_commit": version,
        "//generator_model": run["generator_model"],
    }


def _run_value(key: str, value):
    if isinstance(value, str):          # a JSON value read from params
        value = json.loads(value)
    if key == "//exclude_confound_dims":
        return sorted(value or [])
    return None if value is None else float(value)


def export_upstream(db: Path, out: Path, measurement: str | None, top_n: int, strict_only: bool,
                    version: str, stage_a: str | None = None, keep_per_source: int | None = None) -> str:
    """Write the selection; `version` is what `//validator_commit` says made it (upstream: its git hash).
    With stage_a, only the stage A winner's pairs of `measurement` (stage B), and `<name>_summary.json`
    beside the JSONL (hf/selection_stages.py)."""
    from hf import selection_stages as stages

    if not measurement:
        raise UserError("--format upstream: name one --measurement (upstream's selection is one run's pairs)")
    if top_n < 1:
        raise UserError(f"--top-n {top_n}: must be at least 1")
    if keep_per_source is not None and keep_per_source < 1:
        raise UserError(f"--keep-per-source {keep_per_source}: must be at least 1")
    if not db.exists():
        raise UserError(f"{db}: no warehouse here yet; run `psw ingest ...` then `psw build`")
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.IOException as exc:
        raise UserError(f"{db}: cannot open read-only ({str(exc).splitlines()[0]})") from None
    with con:
        _require(con, db)
        run = _run(con, measurement)
        pairs = _pairs(con, measurement)
        if stage_a:
            stages.require(con, db)
            won = stages.winner(con, stage_a)
            stage_b = stages.stage_b_row(con, measurement, won)
            pairs = stages.winners_pairs(pairs, won)
        chosen = rank(pairs, top_n, strict_only, keep_per_source)
    files = {out: "".join(json.dumps(line(p, run, measurement, version), ensure_ascii=False) + "\n"
                          for p in chosen)}
    if stage_a:
        provenance = {"//written_by": version, "//stage_a_input": stage_a, "//stage_b_input": measurement,
                      "//selection": {"top_n": top_n, "strict_only": strict_only, "keep_per_source": keep_per_source}}
        files[stages.summary_path(out)] = stages.render(stages.summary(won, stage_b, chosen, run, provenance))
    check_texts({path.name: text for path, text in files.items()})
    out.parent.mkdir(parents=True, exist_ok=True)
    temps = []
    for path, text in files.items():   # every file written before any is moved into place
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        temps.append((tmp, path))
    for tmp, path in temps:
        tmp.replace(path)
    where = f", stage a's winner of {stage_a} (+ {stages.summary_path(out).name})" if stage_a else ""
    return f"{out}: {len(chosen)} pairs of {measurement}{where} (upstream's export_selections.py keys)"
