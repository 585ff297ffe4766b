"""A load's place in its measurement: the metadata it gives (generator, judges, temperature, seed)
and the judging protocol its pairs were judged under. A load that disagrees with what a live load
of the measurement already holds is refused naming both loads (README.md, "Each load owns its
rows"): nothing is ever relabelled, and marts never mix two protocols' scores."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ingest import anchored
from ingest.read import Reject
from warehouse.schema import typed_json_sql


@dataclass
class MeasurementMeta:
    generator_model: str | None = None
    judge_models: list[str] = field(default_factory=list)
    temperature: float | None = None
    seed: int | None = None


# the metadata a load gives its measurement: (field, the flag that sets it)
META_FIELDS = (("generator_model", "--generator-model"), ("judge_models", "--judge-model"),
               ("temperature", "--temperature"), ("seed", "--seed"))


def effective_meta(meta: MeasurementMeta, run: dict | None = None) -> dict:
    """What a load records for its measurement: the flags, else what the source itself says."""
    run = run or {}
    return {"generator_model": meta.generator_model or run.get("generator_model"),
            "judge_models": meta.judge_models or run.get("judge_models") or None,
            "temperature": meta.temperature if meta.temperature is not None else run.get("temperature"),
            "seed": meta.seed if meta.seed is not None else run.get("seed")}


# The judging protocol of each held load of a measurement, from what it holds: declared
# (params.protocol, typed: an anchored artifact, an anchored collect), else an examples load whose records
# carry the anchored side deltas, else a load with a successful pair is the guide's; NULL when it
# brought none (published stats, a run whose every pair failed: no scores to mix).
# dbt's int_measurement_protocols labels a measurement anchored by the same signs; this check keeps
# every load of one measurement under one protocol, so that label never relabels another load's pairs.
# The measurement is a constant ($measurement), not the outer row's: DuckDB then reads that measurement's
# rows only, where the correlated form joined every raw row (0.12 s of adding a run to 1M pairs).
LOAD_PROTOCOL_SQL = """
    coalesce(m.params_typed.protocol,
             case when exists (select 1 from raw.exported_pairs as e where e.measurement_id = $measurement
                                   and e.load_id = m.load_id and e.fields.delta_pos_vs_base is not null)
                  then 'anchored'
                  when exists (select 1 from raw.exported_pairs as e where e.measurement_id = $measurement
                                   and e.load_id = m.load_id and coalesce(e.fields.error, '') = '')
                    or exists (select 1 from raw.pairs as p where p.measurement_id = $measurement
                                   and p.load_id = m.load_id and coalesce(p.error, '') = '')
                  then 'guide' end)"""


def conflicts(con, measurement_id: str, load_id: str, source: object, meta: MeasurementMeta,
              run: dict | None = None, protocol: str | None = None) -> list[Reject]:
    """A load whose metadata or judging protocol (`protocol`: 'anchored' or 'guide', None when it
    brings no pairs) disagrees with what a live load of the measurement already holds is refused,
    naming both loads: the earlier load's pairs are never relabelled, and marts never mix two
    protocols' scores. A value a load does not give agrees with any (judge models compare as sets;
    numbers by value)."""
    mine = effective_meta(meta, run)
    rows = con.execute(f"""
        select m.load_id, coalesce(l.source_path, m.load_id), {LOAD_PROTOCOL_SQL},
               m.generator_model, m.judge_models, m.temperature, m.seed
        from raw.measurements as m left join raw.loads as l using (load_id)
        where m.measurement_id = $measurement and m.load_id <> $load order by m.recorded_at""",
        {"measurement": measurement_id, "load": load_id}).fetchall()
    rejects = []
    for other_id, other_path, other_protocol, *values in rows:
        if protocol and other_protocol and protocol != other_protocol:
            rejects.append(Reject(None, f"measurement {measurement_id}: this load ({load_id[:12]}, {source}) was judged "
                                        f"under the {protocol} protocol, but load {other_id[:12]} ({other_path}) under "
                                        f"the {other_protocol} protocol; a measurement holds one protocol: load it as "
                                        f"another measurement (--measurement) or forget that load first "
                                        f"(psw forget --load {other_id[:12]})"))
            break
        held = dict(zip((name for name, _ in META_FIELDS), values))
        for name, _flag in META_FIELDS:
            new, old = mine[name], held[name]
            if new is None or old is None:
                continue
            same = sorted(set(new)) == sorted(set(old)) if name == "judge_models" else new == old
            if not same:
                rejects.append(Reject(None, f"measurement {measurement_id}: this load ({load_id[:12]}, {source}) "
                                            f"gives {name} {_shown(new)}, but load {other_id[:12]} ({other_path}) "
                                            f"recorded {_shown(old)}; nothing is relabelled: load it as another "
                                            f"measurement (--measurement) or forget that load first "
                                            f"(psw forget --load {other_id[:12]})"))
        if rejects:
            break
    return rejects


def _shown(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else repr(value)


def insert(con, measurement_id, load_id, meta: MeasurementMeta, source_format, params, loaded_at,
           run: dict | None = None) -> None:
    """The load's row of its measurement, its params typed as they land by the rule warehouse/append.py
    types every writer's rows by (warehouse.schema.typed_json_sql). One SQL insert, not `append`:
    append's Arrow conversion imports pandas (0.6 s), most of a small file's ingest."""
    run = run or {}
    given = effective_meta(meta, run)
    con.execute(f"""
        insert into raw.measurements by name
        select *, {typed_json_sql('raw.measurements')} as params_typed
        from (select ?::varchar as measurement_id, ?::varchar as load_id, ?::varchar as generator_model,
                     ?::varchar[] as judge_models, ?::double as temperature, ?::integer as seed,
                     ?::varchar as source_format, ?::json as params, ?::timestamp as recorded_at)""", [
        measurement_id, load_id, given["generator_model"], given["judge_models"], given["temperature"],
        given["seed"], source_format, json.dumps({**params, **run.get("params", {})}, default=str), loaded_at])


def examples_protocol(con) -> str | None:
    """The protocol an examples file's checked records were judged under (LOAD_PROTOCOL_SQL's signs):
    anchored when a record's typed fields carry the side deltas, else the guide's when a pair
    succeeded; None when every pair failed."""
    anchored, succeeded = con.execute("select bool_or(fields.delta_pos_vs_base is not null), "
                                      "bool_or(coalesce(fields.error, '') = '') from _records").fetchone()
    return "anchored" if anchored else "guide" if succeeded else None


def artifact_protocol(doc: dict) -> str | None:
    """examples_protocol for a run artifact (or an Inspect log read as one)."""
    if anchored.is_anchored_run(doc):
        return "anchored"
    return "guide" if any(isinstance(r, dict) and not r.get("error") for r in doc["results"]) else None
