"""`psw collect` (measure cells over an OpenAI-compatible API) and `psw runs` (list measurements)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from urllib.parse import urlparse

from warehouse.db import UserError, connect, db_path
from warehouse.errors import missing_api_key

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_KEY_ENV = "OPENROUTER_API_KEY"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "collect", help="generate paired completions and blind judgments into the warehouse",
        description="Measure template x persona-pair cells: per pair one generation under the "
        "positive persona and one under the negative, then four blind judge calls per judge. "
        "Every HTTP call is cached in raw.api_calls; re-running resumes without paying twice.")
    src = p.add_argument_group("candidates (default: the tables loaded by `psw ingest`)")
    src.add_argument("--pairs", type=Path, help="persona pairs JSONL {id,pos,neg,positive_behavior,negative_behavior}")
    src.add_argument("--templates", type=Path, help="templates TXT, one {persona} template per line")
    src.add_argument("--scenarios", type=Path, help="scenarios JSONL {id, prompt|question|text}")
    src.add_argument("--persona-pair", action="append", default=[], metavar="ID",
                     help="measure only this persona pair (repeatable)")
    p.add_argument("--n", type=int, default=4, help="scenarios sampled per cell (default 4; 0 = all)")
    p.add_argument("--seed", type=int, default=23, help="sampling and A/B seed (default 23)")
    p.add_argument("--generator", required=True,
                   help="generator model id at --base-url, or hf:<path> for local transformers")
    p.add_argument("--judge", action="append", default=[], metavar="MODEL",
                   help="judge model (repeatable; at least one)")
    p.add_argument("--gen-temperature", type=float, default=0.0)
    p.add_argument("--judge-temperature", type=float, default=0.0)
    p.add_argument("--max-tokens", type=int, default=400, help="generation max_tokens (default 400)")
    p.add_argument("--judge-max-tokens", type=int, default=800)
    p.add_argument("--base-url", default=DEFAULT_BASE_URL,
                   help=f"OpenAI-compatible endpoint (default {DEFAULT_BASE_URL})")
    p.add_argument("--api-key-env", default=DEFAULT_KEY_ENV, metavar="NAME",
                   help=f"environment variable holding the API key (default {DEFAULT_KEY_ENV})")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per HTTP request")
    p.add_argument("--max-attempts", type=int, default=5, help="HTTP attempts per call")
    p.add_argument("--backoff-base", type=float, default=1.0, help="first backoff ceiling, seconds")
    p.add_argument("--backoff-max", type=float, default=30.0)
    p.add_argument("--measurement", metavar="ID",
                   help="measurement id (default: derived from generator, temperature, seed)")
    p.add_argument("--retry-errors", action="store_true",
                   help="call judges again where only an error row exists (adds rows)")
    p.add_argument("--prompts-dir", type=Path, help="prompt templates (default data/prompts)")
    p.add_argument("--local-batch-size", type=int, default=8, help="hf: generator batch size")
    p.add_argument("--dry-run", action="store_true",
                   help="write the plan (pairs with A/B labels) as JSONL and call nothing")
    p.add_argument("--plan-out", type=Path, help="with --dry-run: plan file (default stdout)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_collect)

    r = subparsers.add_parser("runs", help="list measurements with counts, errors, tokens and cost")
    r.add_argument("--json", action="store_true", help="one JSON object per line")
    r.set_defaults(func=cmd_runs)


# ---------------------------------------------------------------------- collect

def _is_loopback(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


def _candidates(args, con):
    from collect import plan as P
    pairs = P.load_pairs_file(args.pairs) if args.pairs else P.load_pairs_table(con)
    templates = P.load_templates_file(args.templates) if args.templates else P.load_templates_table(con)
    scenarios = P.load_scenarios_file(args.scenarios) if args.scenarios else P.load_scenarios_table(con)
    for name, got, flag in (("persona pairs", pairs, "--pairs"), ("templates", templates, "--templates"),
                            ("scenarios", scenarios, "--scenarios")):
        if not got:
            raise UserError(f"{flag}: no {name}: pass {flag} or load them with `psw ingest`")
    if args.persona_pair:
        known = {p.id for p in pairs}
        unknown = [i for i in args.persona_pair if i not in known]
        if unknown:
            raise UserError(f"--persona-pair: unknown persona pair id(s): {', '.join(unknown)}")
        pairs = [p for p in pairs if p.id in set(args.persona_pair)]
    return pairs, templates, scenarios


def _local_generator(spec: str):
    """A factory for the local model: the import is checked now, the model is loaded only
    when some pair still needs generating (a resumed run may need none)."""
    path = spec[len("hf:"):]
    try:
        from extract.local_gen import LocalGenerator
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("extract"):
            raise UserError(f"--generator: {spec}: local generation needs extract.local_gen, "
                            "which is not installed in this checkout yet") from None
        raise
    return lambda: LocalGenerator(path, device="auto", dtype="auto")


def build_run(args):
    """Everything `collect` decides before calling anything: (plan, settings)."""
    from collect import plan as P
    from collect.judges import Prompts
    from warehouse.judge_schema import CRITERIA

    if not args.judge:
        raise UserError("--judge: at least one --judge MODEL is required")
    if args.n is not None and args.n < 0:
        raise UserError("--n: must be >= 0")
    prompts = Prompts.load(args.prompts_dir)
    path = db_path(args.db)
    need_db = not (args.pairs and args.templates and args.scenarios)
    con = None
    if need_db and path.exists():
        con = connect(path, read_only=True)
    try:
        pairs, templates, scenarios = _candidates(args, con)
    finally:
        if con is not None:
            con.close()
    scenarios = P.sample_scenarios(scenarios, args.n or None, args.seed)
    gen_params = {"temperature": args.gen_temperature, "max_tokens": args.max_tokens}
    judge_params = {"temperature": args.judge_temperature, "max_tokens": args.judge_max_tokens}
    if "openrouter.ai" in args.base_url:
        # OpenRouter reports the cost in `usage` when asked to
        gen_params["usage"] = judge_params["usage"] = {"include": True}
    mid = args.measurement or P.default_measurement_id(
        args.generator, args.gen_temperature, args.seed, prompts.hash("generation"), args.max_tokens)
    plan = P.build_plan(mid, templates, pairs, scenarios, args.seed)
    params = {
        "generator": args.generator, "judges": list(args.judge), "base_url": args.base_url,
        "api_key_env": args.api_key_env, "n": args.n, "seed": args.seed,
        "gen_params": gen_params, "judge_params": judge_params,
        "prompt_hashes": {c: prompts.hash(c) for c in ("generation", *CRITERIA, "retry")},
        "judge_prompt_hash": prompts.judge_set_hash(),
        "inputs": {"pairs": str(args.pairs) if args.pairs else "raw.persona_pairs",
                   "templates": str(args.templates) if args.templates else "raw.templates",
                   "scenarios": str(args.scenarios) if args.scenarios else "raw.scenarios"},
        "persona_pairs": [p.id for p in pairs], "scenario_ids": [s.id for s in scenarios],
        "n_templates": len(templates),
    }
    return plan, prompts, mid, gen_params, judge_params, params, path


def cmd_collect(args) -> int:
    plan, prompts, mid, gen_params, judge_params, params, path = build_run(args)
    if args.dry_run:
        out = open(args.plan_out, "w", encoding="utf-8") if args.plan_out else sys.stdout
        try:
            for item in plan:
                out.write(json.dumps({**item.as_dict(), "generator_model": args.generator,
                                      "judge_models": args.judge}, ensure_ascii=False) + "\n")
        finally:
            if args.plan_out:
                out.close()
        print(f"dry run: measurement {mid}: {len(plan)} pairs planned, "
              f"{len(plan) * (2 + 4 * len(args.judge))} calls at most; nothing called",
              file=sys.stderr)
        return 0

    local_gen = None
    if args.generator.startswith("hf:"):
        local_gen = _local_generator(args.generator)
    api_key = os.environ.get(args.api_key_env) if args.api_key_env else None
    if not api_key and not _is_loopback(args.base_url):
        raise missing_api_key(args.api_key_env, args.base_url)

    from collect.client import ChatClient
    from collect.run import Collector, RunConfig
    from collect.store import Store, now

    load_id = "collect_" + uuid.uuid4().hex[:16]
    con = connect(path)
    try:
        store = Store(con)
        store.record_load(load_id, f"collect {params['inputs']['pairs']} x "
                          f"{params['inputs']['templates']} x {params['inputs']['scenarios']}",
                          mid, len(plan))
        store.record_measurement(mid, load_id, args.generator, args.judge, args.gen_temperature,
                                 args.seed, params)
        models = list(dict.fromkeys([args.generator, *args.judge]))
        cache = store.load_cache(args.base_url, models)
        cfg = RunConfig(measurement_id=mid, load_id=load_id, generator=args.generator,
                        judges=list(dict.fromkeys(args.judge)), gen_params=gen_params,
                        judge_params=judge_params, concurrency=args.concurrency,
                        progress=not args.no_progress)

        async def main():
            def on_response(row):
                row.update(measurement_id=mid, load_id=load_id, created_at=now())
                store.add("raw.api_calls", row)
            client = ChatClient(args.base_url, api_key, concurrency=args.concurrency,
                                timeout=args.timeout, max_attempts=args.max_attempts,
                                backoff_base=args.backoff_base, backoff_max=args.backoff_max,
                                cache=cache, on_response=on_response)
            collector = Collector(cfg, plan, store, client, prompts,
                                  retry_errors=args.retry_errors, local_generator=local_gen,
                                  local_batch_size=args.local_batch_size)
            try:
                return collector, await collector.run()
            finally:
                await client.aclose()

        collector, counters = asyncio.run(main())
    finally:
        con.close()
    _summary(collector, counters)
    return 0


def _summary(collector, c) -> None:
    s = collector.stats
    rate = s.calls / c.elapsed if c.elapsed > 0 else 0.0
    lines = [
        f"measurement {collector.cfg.measurement_id} (load {collector.cfg.load_id})",
        f"  pairs: {c.planned} planned, {c.already_done} already done, {c.pairs_done} done now, "
        f"{c.pair_errors} generation errors",
        f"  judgments: {c.judgments} written, {c.judge_errors} errors, "
        f"{c.judge_retries} re-asked after invalid output",
        f"  calls: {s.calls} ({s.cache_hits} from cache), {s.requests} HTTP requests, "
        f"{s.retries} retries, {s.failed_calls} failed",
        f"  tokens: {s.tokens}  cost: ${s.cost:.4f}  time: {c.elapsed:.1f}s  ({rate:.0f} calls/s)",
    ]
    lines += [f"  error: {e}" for e in c.error_samples]
    print("\n".join(lines))


# ---------------------------------------------------------------------- runs

RUNS_SQL = """
with m as (
    select measurement_id,
           arg_max(generator_model, recorded_at) as generator_model,
           arg_max(judge_models, recorded_at) as judge_models,
           arg_max(seed, recorded_at) as seed,
           arg_max(temperature, recorded_at) as temperature,
           arg_max(source_format, recorded_at) as source_format,
           min(recorded_at) as first_recorded
    from raw.measurements group by measurement_id
), p as (
    select measurement_id, count(*) as pairs, count(error) as pair_errors
    from raw.pairs group by measurement_id
), j as (
    select measurement_id, count(*) as judgments, count(error) as judge_errors
    from raw.judgments group by measurement_id
), c as (
    select measurement_id, count(*) as api_calls,
           sum(coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0)) as tokens,
           sum(coalesce(cost, 0)) as cost
    from raw.api_calls group by measurement_id
)
select m.measurement_id, m.source_format, m.generator_model, m.judge_models, m.seed,
       m.temperature, coalesce(p.pairs, 0) as pairs, coalesce(p.pair_errors, 0) as pair_errors,
       coalesce(j.judgments, 0) as judgments, coalesce(j.judge_errors, 0) as judge_errors,
       coalesce(c.api_calls, 0) as api_calls, coalesce(c.tokens, 0) as tokens,
       coalesce(c.cost, 0) as cost, m.first_recorded
from m left join p using (measurement_id) left join j using (measurement_id)
       left join c using (measurement_id)
order by m.first_recorded, m.measurement_id
"""


_EMPTY = {  # stand-ins for raw tables a warehouse may not have yet (runs opens it read-only)
    "pairs": "(select null::varchar as measurement_id, null::varchar as error where false) as t",
    "judgments": "(select null::varchar as measurement_id, null::varchar as error where false) as t",
    "api_calls": "(select null::varchar as measurement_id, 0 as prompt_tokens, "
                 "0 as completion_tokens, 0.0 as cost where false) as t",
}


def cmd_runs(args) -> int:
    path = db_path(args.db)
    if not path.exists():
        raise UserError(f"{path}:0: no warehouse here yet; run `psw collect` or `psw ingest` first")
    con = connect(path, read_only=True)
    try:
        have = {t for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()}
        if "measurements" not in have:
            rows, cols = [], []
        else:
            sql = RUNS_SQL
            for table, empty in _EMPTY.items():
                if table not in have:
                    sql = sql.replace(f"from raw.{table} ", f"from {empty} ")
            cur = con.execute(sql)
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
    finally:
        con.close()
    if args.json:
        for r in rows:
            print(json.dumps(dict(zip(cols, r)), default=str))
        return 0
    if not rows:
        print("no measurements yet")
        return 0
    show = ["measurement_id", "source_format", "generator_model", "judge_models", "pairs",
            "pair_errors", "judgments", "judge_errors", "api_calls", "tokens", "cost"]
    head = ["measurement", "source", "generator", "judges", "pairs", "pair_err", "judgments",
            "judge_err", "calls", "tokens", "cost"]
    table = [head]
    for r in rows:
        d = dict(zip(cols, r))
        d["judge_models"] = ",".join(d["judge_models"] or [])
        d["cost"] = f"${d['cost']:.4f}"
        table.append([str(d[k] if d[k] is not None else "") for k in show])
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    return 0
