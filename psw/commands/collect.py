"""`psw collect`: measure cells over an OpenAI-compatible API (or a local model)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlparse

from collect.prices import WHERE_TO_ADD
from warehouse.db import UserError, connect, db_path
from warehouse.errors import missing_api_key

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_KEY_ENV = "OPENROUTER_API_KEY"
EXIT_ALL_DONE, EXIT_SOME_FAILED, EXIT_BAD_INPUT, EXIT_NOTHING_SUCCEEDED = 0, 1, 2, 3
EXAMPLE = """adaptive replay of a stored full run (same flags, a call budget, no HTTP request):
  psw collect --pairs P.jsonl --templates T.txt --scenarios S.jsonl --n 8 --generator G --judge J \\
    --base-url URL --adaptive --budget 300 --top-k 3 --round-size 3 --replay-of collect-s23-1a2b3c4d/G

"""
EXIT_CODES = """exit status:
  0  every planned pair is generated and fully judged
  1  some pairs failed (a generation error, or a judge call that still has no valid reply):
     a plain re-run skips them; --retry-errors asks again
  2  bad input (a file, a flag, a missing key, a model the server does not serve, a call that
     cannot fit the server's context): no call of the plan was made
  3  nothing succeeded: no planned pair could be generated and fully judged
  130 interrupted (what had landed is kept; run again to resume)"""


def add_parser(subparsers) -> None:
    import argparse
    p = subparsers.add_parser(
        "collect", help="generate paired completions and blind judgments into the warehouse",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXAMPLE + EXIT_CODES,
        description="Measure template x persona-pair cells: per pair one generation under the "
        "positive persona and one under the negative (one for the --control arm), then per axis "
        "judge the positive and negative target in both A/B orders, and one style and one "
        "confound call. Every HTTP call is cached in raw.api_calls; re-running resumes without "
        "paying twice.")
    src = p.add_argument_group("candidates (default: the tables loaded by `psw ingest`)")
    src.add_argument("--pairs", type=Path, help="persona pairs JSONL {id,pos,neg,positive_behavior,"
                     "negative_behavior[,pos_persona,neg_persona]}")
    src.add_argument("--templates", type=Path, help="templates TXT, one {persona} template per line "
                     "(or __verbatim_skill_persona__: the pairs' pos_persona/neg_persona)")
    src.add_argument("--scenarios", type=Path, help="scenarios JSONL {id, prompt|question|text[, self_contained]}")
    src.add_argument("--persona-pair", action="append", default=[], metavar="ID",
                     help="measure only this persona pair (repeatable)")
    src.add_argument("--scenario-source", action="append", default=[], metavar="NAME",
                     help="measure only the scenarios whose `source` is NAME (repeatable)")
    p.add_argument("--control", action="store_true",
                   help="add the no-persona control arm (template '') for every persona pair and scenario")
    p.add_argument("--n", type=int, default=4, help="scenarios sampled per cell (default 4; 0 = all)")
    p.add_argument("--seed", type=int, default=23, help="sampling and A/B seed (default 23)")
    p.add_argument("--generator", action="append", default=[], metavar="MODEL",
                   help="generator model id at --base-url, or hf:<path> for local transformers "
                   "(repeatable: one measurement per generator)")
    p.add_argument("--judge", action="append", default=[], metavar="MODEL",
                   help="axis judge model (repeatable; at least one)")
    p.add_argument("--style-judge", metavar="MODEL",
                   help="model for the style and confound calls (default: the first --judge)")
    p.add_argument("--judge-orders", type=int, choices=(1, 2), default=2,
                   help="ask each axis question in 1 (forward) or 2 (forward and A/B-swapped) orders (default 2)")
    p.add_argument("--prompt-set", default="user_turn", metavar="NAME",
                   help="generation layout under <prompts-dir>/layouts/: user_turn (upstream: the persona "
                   "opens the user message; default) or system (the persona as a system message)")
    p.add_argument("--gen-temperature", type=float, default=0.0)
    p.add_argument("--judge-temperature", type=float, default=0.0)
    p.add_argument("--max-tokens", type=int, default=400, help="generation max_tokens (default 400)")
    p.add_argument("--judge-max-tokens", type=int, default=1200)
    p.add_argument("--base-url", default=DEFAULT_BASE_URL,
                   help=f"OpenAI-compatible endpoint (default {DEFAULT_BASE_URL})")
    p.add_argument("--api-key-env", default=DEFAULT_KEY_ENV, metavar="NAME",
                   help=f"environment variable holding the API key (default {DEFAULT_KEY_ENV})")
    p.add_argument("--judge-output", choices=("auto", "schema", "object", "prompt"), default="auto",
                   help="how judges are asked for JSON: schema (the reply's JSON schema, generated from the "
                   "judge panels, in the flavour the server accepts), object (JSON mode), prompt (the prompt "
                   "alone), auto (schema, else object, else prompt; default). Replies are validated either way")
    p.add_argument("--concurrency", type=int, default=16,
                   help="requests at once (default 16; capped at the server's slots where it reports them)")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="seconds per HTTP request, from when it is sent")
    p.add_argument("--max-attempts", type=int, default=5, help="HTTP attempts per call")
    p.add_argument("--backoff-base", type=float, default=1.0, help="first backoff ceiling, seconds")
    p.add_argument("--backoff-max", type=float, default=30.0)
    p.add_argument("--measurement", metavar="ID",
                   help="measurement id; each generator's is ID/<generator> (default ID: derived "
                   "from temperature, seed, prompt set and max tokens)")
    p.add_argument("--retry-errors", action="store_true",
                   help="ask again wherever only an error row exists: generations that failed (any kind: "
                   "HTTP error, timeout, refused connection, unreadable body, empty or truncated reply) and "
                   "judge calls without a valid reply; new rows are added beside the error rows. Replies "
                   "already received come from the cache, so an empty, truncated or invalid reply comes "
                   "back the same; requests that got no reply are sent again")
    p.add_argument("--prompts-dir", type=Path, help="prompt templates (default data/prompts)")
    p.add_argument("--local-batch-size", type=int, default=8, help="hf: generator batch size")
    p.add_argument("--dry-run", action="store_true",
                   help="write the plan as JSONL, estimate its calls, tokens and cost, show what the server "
                   "probe finds; sends no plan call and writes nothing to the warehouse (creates no file)")
    p.add_argument("--plan-out", type=Path, help="with --dry-run: plan file (default stdout)")
    p.add_argument("--no-progress", action="store_true")
    ad = p.add_argument_group("adaptive runs (collect/README.md, \"Adaptive runs\")")
    ad.add_argument("--adaptive", action="store_true",
                    help="measure in rounds; after each build drop cells whose score + z*se is below the "
                    "k-th best score - z*se (se floored for small n), and measure more scenarios for the rest only")
    ad.add_argument("--budget", type=int, metavar="CALLS",
                    help="with --adaptive: most calls to spend (the protocol's calls per pair, cache hits included)")
    ad.add_argument("--top-k", type=int, default=3, help="cells to find (default 3)")
    ad.add_argument("--rounds", type=int, help="split the --n scenarios into this many rounds (default 4)")
    ad.add_argument("--round-size", type=int, metavar="N", help="or: scenarios per cell per round")
    ad.add_argument("--z", type=float, help="bound width in standard errors (default: the union bound over "
                    "cells and rounds for --alpha)")
    ad.add_argument("--alpha", type=float, default=0.05,
                    help="most chance of dropping a true top-k cell over the run (default 0.05)")
    ad.add_argument("--replay-of", metavar="MEASUREMENT",
                    help="adaptive against a stored measurement (same flags as its run), every call from the "
                    "cache: no HTTP request; reports calls saved and whether the top k agrees with the full run")
    from collect.options import add_arguments
    add_arguments(p)
    p.set_defaults(func=cmd_collect)


# ---------------------------------------------------------------------- collect

def _is_loopback(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


CANDIDATE_FILES = (("--pairs", "pairs", ("pairs",)), ("--templates", "templates", ("templates", "catalog")),
                   ("--scenarios", "scenarios", ("scenarios",)))
STAGING_VIEWS = ("stg_raw__persona_pairs", "stg_raw__templates", "stg_raw__scenarios")


def _ingest_candidates(args, path) -> dict[str, list[str]]:
    """Load the candidate files through `psw ingest`'s checks (one validator; a file loads whole
    or not at all); returns the keys each file names, which are what this run measures. A dry
    run loads them into its scratch warehouse only (`_scratch_warehouse`)."""
    from ingest.loader import ingest_file

    keys = {}
    args.family_keys = None
    with connect(path) as con:
        for flag, attr, kinds in CANDIDATE_FILES:
            given = getattr(args, attr)
            # a config's stage names several scenario files (its families): each loads on its own
            for file in (given if isinstance(given, list) else [] if given is None else [given]):
                kind = attr if attr != "templates" else ("catalog" if file.suffix in (".yaml", ".yml") else attr)
                report = ingest_file(con, file, kind)
                if report.rejects:
                    first = report.rejects[0]
                    raise UserError(f"{file}:{first.line_no or 1}: {first.reason} ({len(report.rejects)} malformed "
                                    f"record(s); nothing loaded, nothing collected)")
                if report.kind not in kinds:
                    raise UserError(f"{flag} {file}: this is a {report.kind} file, not {' or '.join(kinds)}")
                if not report.keys:
                    raise UserError(f"{flag} {file}: no {attr} in this file")
                print(report.summary() + (" (dry run: checked, not loaded)" if getattr(args, "dry_run", False)
                                          else ""), file=sys.stderr)
                keys[attr] = list(dict.fromkeys([*keys.get(attr, []), *report.keys]))
                if attr == "scenarios":
                    args.family_keys = [*(getattr(args, "family_keys", None) or []), list(report.keys)]
    return keys


def _staging_views(path) -> None:
    """dbt's staging views over the candidates exist once any build ran; build just them if not.
    The raw tables they select are brought to this release first (typed fields: ingest/typed.py)."""
    from psw.commands.build import run_dbt
    from ingest.typed import ensure_current

    with connect(path) as con:
        ensure_current(con)
    with connect(path, read_only=True) as con:
        have = {name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'staging'").fetchall()}
    if set(STAGING_VIEWS) <= have:
        return
    if not run_dbt(path, "run", ["--quiet", "--select", *STAGING_VIEWS]):
        raise UserError("dbt could not build the staging views over the candidates (see its output above)")


CANDIDATE_TABLES = ("loads", "persona_pairs", "templates", "template_catalog", "scenarios")


@contextlib.contextmanager
def _scratch_warehouse(path):
    """For --dry-run: a throwaway warehouse in a temporary folder holding the real one's candidate
    tables, so the candidate files pass ingest's checks and dbt's staging views (the rules a real
    run plans by) while the real warehouse is only read, and no file is left behind."""
    import duckdb

    from ingest.typed import ensure_current

    with tempfile.TemporaryDirectory(prefix="psw-dry-run-") as tmp:
        scratch = Path(tmp) / path.name
        with connect(scratch) as con:
            ensure_current(con)
            if path.exists():
                quoted = str(path.resolve()).replace("'", "''")
                try:
                    con.execute(f"attach '{quoted}' as real_warehouse (read_only)")
                except duckdb.Error as exc:
                    raise UserError(f"{path}: cannot read the warehouse for the dry run: "
                                    f"{str(exc).splitlines()[0]}") from None
                have = {t for (t,) in con.execute(
                    "select table_name from information_schema.tables "
                    "where table_catalog = 'real_warehouse' and table_schema = 'raw'").fetchall()}
                for table in CANDIDATE_TABLES:
                    if table in have:
                        con.execute(f"insert into raw.{table} by name select * from real_warehouse.raw.{table}")
                con.execute("detach real_warehouse")
        yield scratch


def _candidates(args, path):
    if not getattr(args, "dry_run", False):
        return _candidates_in(args, path)
    if not (args.pairs or args.templates or args.scenarios) and not path.exists():
        raise UserError(f"{path}: no candidates: pass --pairs, --templates and --scenarios, "
                        f"or load them with `psw ingest`")
    with _scratch_warehouse(path) as scratch:
        return _candidates_in(args, scratch)


def _candidates_in(args, path):
    from collect import plan as P

    keys = _ingest_candidates(args, path) if (args.pairs or args.templates or args.scenarios) else {}
    if getattr(args, "template_texts", None):   # stage b: the winner stage a's scores chose
        keys["templates"] = args.template_texts
    if not path.exists():
        raise UserError(f"{path}: no candidates: pass --pairs, --templates and --scenarios, "
                        f"or load them with `psw ingest`")
    _staging_views(path)
    with connect(path, read_only=True) as con:
        pairs, templates, scenarios = P.load_candidates(con, keys.get("pairs"), keys.get("templates"),
                                                        keys.get("scenarios"))
        sources = dict(con.execute(f"select scenario_id, scenario_source from {P.STAGING}.stg_raw__scenarios")
                       .fetchall()) if args.scenario_source else {}
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
    if args.scenario_source:
        scenarios = _of_sources(scenarios, sources, args.scenario_source)
    if args.control and all(t.text != P.CONTROL_TEMPLATE for t in templates):
        templates = [P.make_template(P.CONTROL_TEMPLATE, "--control"), *templates]
    return pairs, templates, scenarios


def _of_sources(scenarios: list, sources: dict, wanted: list[str]) -> list:
    """The scenarios whose `source` is one of `wanted`; a source no scenario has is an error."""
    known = {sources.get(s.id) for s in scenarios} - {None}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise UserError(f"--scenario-source: no scenario has source {', '.join(unknown)} "
                        f"(sources: {', '.join(sorted(known)) or 'none recorded'})")
    return [s for s in scenarios if sources.get(s.id) in set(wanted)]


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


def _check_flags(args) -> None:
    from collect import anchored
    anchored.check(args)
    if not args.generator:
        raise UserError("--generator:0: at least one --generator MODEL is required")
    if not args.judge:
        raise UserError("--judge: at least one --judge MODEL is required")
    if args.n is not None and args.n < 0:
        raise UserError("--n: must be >= 0")
    for flag, values in (("--generator", args.generator), ("--judge", args.judge)):
        if any(not v.strip() for v in values):
            raise UserError(f"{flag}: a model id cannot be empty")
    if args.adaptive or args.replay_of:
        if args.budget is None:
            raise UserError("--budget: required with --adaptive (calls to spend at most)")
        if len(set(args.generator)) != 1 or args.generator[0].startswith("hf:"):
            raise UserError("--generator: an adaptive run measures one API generator at a time")
        adaptive_settings(args)


def adaptive_settings(args):
    from collect.adaptive import Settings
    settings = Settings(budget=args.budget, top_k=args.top_k, z=args.z, alpha=args.alpha, rounds=args.rounds,
                        round_size=args.round_size, replay_of=args.replay_of)
    settings.check()
    return settings


def _planned(args):
    """build_run, leaving no new warehouse file behind when the plan is refused (bad input
    collects nothing and writes nothing: the candidates it loaded go with the file it created)."""
    path = db_path(args.db)
    existed = path.exists()
    try:
        return build_run(args)
    except UserError:
        if not existed:
            for leftover in (path, path.with_name(path.name + ".wal")):
                leftover.unlink(missing_ok=True)
        raise


def build_run(args):
    """Everything `collect` decides before calling anything: (plan, prompts, config, params, path)."""
    from collect import anchored, axis_config, plan as P
    from collect.judges import Prompts
    from collect.options import protocol_params, provider_only
    from collect.run import RunConfig

    _check_flags(args)
    prompts = Prompts.load(args.prompts_dir, args.prompt_set)
    path = db_path(args.db)
    if getattr(args, "stage", None) == "b":
        print(axis_config.choose_winner(args, path), file=sys.stderr)
    pairs, templates, scenarios = _candidates(args, path)
    if getattr(args, "n_per_source", None):
        rows = axis_config.stratified_rows(scenarios, args.family_keys, args.n_per_source, args.seed)
    else:
        rows = P.sample_rows(scenarios, args.n or None, args.seed)
    gen_params = {"temperature": args.gen_temperature, "max_tokens": args.max_tokens}
    if provider_only(args) and "openrouter.ai" in args.base_url:
        gen_params["provider"] = {"only": provider_only(args), "allow_fallbacks": False}
    judge_params = {"temperature": args.judge_temperature, "max_tokens": args.judge_max_tokens}
    if "openrouter.ai" in args.base_url:
        # OpenRouter reports the cost in `usage` when asked to
        gen_params["usage"] = judge_params["usage"] = {"include": True}
    generators = list(dict.fromkeys(args.generator))
    base = args.measurement or P.default_measurement_id(
        args.gen_temperature, args.seed, prompts.generation_hash(), args.max_tokens,
        protocol=args.protocol)
    if args.replay_of and not args.measurement:
        from collect.adaptive import replay_base
        base = replay_base(args.replay_of, generators[0], adaptive_settings(args))
    plan = P.build_plan(base, generators, templates, pairs, rows, args.seed, prompts)
    cfg = RunConfig(load_id="collect_" + uuid.uuid4().hex[:16], axis_judges=list(dict.fromkeys(args.judge)),
                    style_judge=args.style_judge or args.judge[0], gen_params=gen_params,
                    judge_params=judge_params, judge_orders=args.judge_orders,
                    concurrency=args.concurrency, progress=not args.no_progress, protocol=args.protocol,
                    axis_judge_method=args.axis_judge_method, axis_judge_n=args.axis_judge_n,
                    axis_judge_budget=args.axis_judge_budget)
    anchored.prepare(prompts, cfg)
    params = {
        "generators": generators, "judges": cfg.axis_judges, "style_judge": cfg.style_judge,
        "judge_orders": cfg.judge_orders, "judge_protocol": "v3", "prompt_set": prompts.layout,
        "control": bool(args.control), "base_url": _stored_url(args.base_url), "api_key_env": args.api_key_env,
        "n": args.n, "seed": args.seed, "gen_params": gen_params, "judge_params": judge_params,
        "prompt_hashes": {name: prompts.hash(name) for name in prompts.texts},
        "generation_prompt_hash": prompts.generation_hash(),
        "judge_prompt_hash": prompts.judge_set_hash(),
        "inputs": {"pairs": str(args.pairs) if args.pairs else "raw.persona_pairs",
                   "templates": str(args.templates) if args.templates else "raw.templates",
                   "scenarios": str(args.scenarios) if args.scenarios else "raw.scenarios"},
        "persona_pairs": [p.id for p in pairs], "scenario_ids": [s.id for _, s in rows],
        "n_templates": len(templates),
    }
    params.update(protocol_params(args))
    return plan, prompts, cfg, params, path


def _dry_run(args, plan, prompts, cfg, path, findings) -> int:
    from collect.estimate import describe, estimate, observed_completion_tokens
    from hf.secret_scan import check_texts

    lines = "".join(json.dumps({**item.as_dict(), "judge_calls": [list(c) for c in cfg.criteria()]},
                               ensure_ascii=False) + "\n" for item in plan)
    # the plan repeats the candidates' texts: the one scanner every output passes (hf/secret_scan.py)
    check_texts({str(args.plan_out or "the plan"): lines}, "no plan written")
    out = open(args.plan_out, "w", encoding="utf-8") if args.plan_out else sys.stdout
    try:
        out.write(lines)
    finally:
        if args.plan_out:
            out.close()
    con = connect(path, read_only=True) if path.exists() else None
    try:
        observed = observed_completion_tokens(con)
    finally:
        if con is not None:
            con.close()
    mids = sorted({item.measurement_id for item in plan})
    print(f"dry run: measurement{'s' if len(mids) > 1 else ''} {', '.join(mids)}: {len(plan)} pairs "
          f"planned; nothing called", file=sys.stderr)
    print(describe(estimate(plan, cfg, prompts, observed)), file=sys.stderr)
    return EXIT_ALL_DONE


def _print_findings(findings, cfg) -> None:
    from collect.probe import describe
    if findings:
        lines = describe(findings)
        flavours = {j: f or "prompt" for j, f in cfg.judge_output.items()}
        lines.append("  judge output: " + ", ".join(f"{j} {f}" for j, f in flavours.items())
                     + f"; concurrency {cfg.concurrency}")
        print("\n".join(lines), file=sys.stderr)


def cmd_collect(args) -> int:
    from collect import axis_config
    axis_config.apply(args)
    _check_flags(args)
    api_key = os.environ.get(args.api_key_env) if args.api_key_env else None
    replay = args.replay_of
    from collect.client import check_api_key, split_url_credentials
    check_api_key(api_key, f"${args.api_key_env}")     # one line now, not a UnicodeEncodeError mid-run
    url_auth = split_url_credentials(args.base_url)[1]
    if not args.dry_run and not replay and not api_key and not url_auth and not _is_loopback(args.base_url):
        raise missing_api_key(args.api_key_env, args.base_url)   # before anything is loaded or called
    plan, prompts, cfg, params, path = _planned(args)
    findings = _fit_to_server(args, api_key, plan, prompts, cfg, params, path)
    _print_findings(findings, cfg)
    if args.dry_run:
        return _dry_run(args, plan, prompts, cfg, path, findings)
    if args.adaptive or replay:
        return _adaptive(args, plan, prompts, cfg, params, path, api_key)
    local_gens = {g: _local_generator(g) for g in params["generators"] if g.startswith("hf:")}

    from collect.anchored import collector_class
    from collect.client import ChatClient
    from collect.store import Store, record_run

    con = connect(path)
    try:
        store = Store(con)
        record_run(store, plan, cfg, params)
        models = list(dict.fromkeys([*params["generators"], *cfg.axis_judges, cfg.style_judge]))
        cache = store.load_cache(args.base_url, models, reasoning_models=_reasoning_models(cfg))

        async def main():
            client = ChatClient(args.base_url, api_key, **_client_opts(args, cfg), cache=cache,
                                on_response=store.api_call_sink(plan, cfg.load_id))
            if findings and not findings.get("slots") and cfg.concurrency > 1:
                from collect.aimd import AdaptiveLimit   # the server did not say: find it out
                client.adaptive = AdaptiveLimit(cfg.concurrency)
            collector = collector_class(cfg)(cfg, plan, store, client, prompts, retry_errors=args.retry_errors,
                                             local_generators=local_gens, local_batch_size=args.local_batch_size)
            try:
                return collector, await collector.run()
            finally:
                await client.aclose()

        collector, counters = asyncio.run(main())
    finally:
        con.close()
    _summary(collector, counters)
    _write_artifact(args, plan, prompts, cfg, params, path)
    return exit_status(counters)


def _reasoning_models(cfg) -> tuple[str, ...]:
    return tuple(cfg.axis_judges) if cfg.axis_judge_method == "bounded_thinking" else ()


def _write_artifact(args, plan, prompts, cfg, params, path) -> None:
    if getattr(args, "artifact_out", None) is None:
        return
    from collect.artifact_out import write_artifact
    n = write_artifact(path, args.artifact_out, plan, cfg, params, prompts)
    print(f"artifact: {args.artifact_out} ({n} results, upstream's validate_persona_axes.py shape)")


def _fit_to_server(args, api_key, plan, prompts, cfg, params, path) -> dict:
    """Probe the server (or take what the warehouse knows of it), then fit the run to it: models
    checked, seeds, the judge output flavour, slots; a call that cannot fit is refused here."""
    from collect import probe, serverfit

    con = connect(path, read_only=True) if path.exists() else None
    try:
        known = probe.stored_findings(con, args.base_url)
    finally:
        if con is not None:
            con.close()
    api_models = [g for g in params["generators"] if not g.startswith("hf:")]
    judges = list(dict.fromkeys([*cfg.axis_judges, cfg.style_judge]))
    if args.replay_of:      # a replay sends nothing: what the full run found is what it sent
        findings = {**known, "models": {m: e for m, e in known.get("models", {}).items()
                                        if m in api_models or m in judges}} if known else {}
    else:
        findings = probe.probe(args.base_url, api_key, api_models, judges,
                               timeout=min(args.timeout, 10.0), known=known)
    serverfit.apply(cfg, params, findings, args.judge_output, args.seed)
    problem = serverfit.context_problem(plan, cfg, prompts, findings) if findings else None
    if problem:
        raise UserError(problem)
    return findings


def _client_opts(args, cfg=None) -> dict:
    return {"concurrency": cfg.concurrency if cfg is not None else args.concurrency,
            "timeout": args.timeout, "max_attempts": args.max_attempts,
            "backoff_base": args.backoff_base, "backoff_max": args.backoff_max}


def _adaptive(args, plan, prompts, cfg, params, path, api_key) -> int:
    from argparse import Namespace

    from collect.adaptive import describe
    from collect.adaptive_run import Runner
    from psw.commands import build

    def build_now():
        build.run(Namespace(db=str(path), passthrough=[], unit_tests=False, force=False, verbose=False, quiet=True))

    runner = Runner(plan, prompts, cfg, params, path, adaptive_settings(args), args.base_url, api_key,
                    _client_opts(args, cfg), build_now, retry_errors=args.retry_errors)
    result = runner.run()
    print("\n".join(describe(result)))
    return exit_status(result.counters)


def exit_status(counters) -> int:
    if counters.planned and counters.complete == 0:
        return EXIT_NOTHING_SUCCEEDED
    if counters.complete < counters.planned:
        return EXIT_SOME_FAILED
    return EXIT_ALL_DONE


def _summary(collector, c) -> None:
    s = collector.stats
    rate = s.calls / c.elapsed if c.elapsed > 0 else 0.0
    mids = sorted({item.measurement_id for item in collector.plan})
    lines = [
        f"measurement{'s' if len(mids) > 1 else ''} {', '.join(mids)} (load {collector.cfg.load_id})",
        f"  pairs: {c.planned} planned, {c.already_done} already done, {c.pairs_done} done now, "
        f"{c.pair_errors} generation errors; {c.complete} complete, {c.planned - c.complete} pairs failed",
        f"  judgments: {c.judgments} written, {c.judge_errors} errors, "
        f"{c.judge_retries} re-asked after invalid output",
        f"  calls: {s.calls} ({s.cache_hits} from cache), {s.requests} HTTP requests, "
        f"{s.retries} retries, {s.failed_calls} calls failed",
        f"  tokens: {s.tokens}  cost: ${s.cost:.4f}  time: {c.elapsed:.1f}s  ({rate:.0f} calls/s)",
    ]
    if s.unpriced:
        lines.append(f"  cost leaves out {sum(s.unpriced.values())} calls without a reported cost or a price "
                     f"({', '.join(sorted(s.unpriced))}): {WHERE_TO_ADD}")
    if collector.client.adaptive is not None:
        lim = collector.client.adaptive
        lines.append(f"  concurrency: AIMD (the server reports no slots): up to {lim.peak} at once, "
                     f"{int(lim.limit)} at the end")
    if c.schema_refused:
        lines.append(f"  judge replies under a JSON schema that the validator refused: {c.schema_refused}")
    lines += [f"  error: {e}" for e in c.error_samples]
    if c.complete < c.planned:
        lines.append(f"  {c.planned - c.complete} pairs failed: a plain re-run skips them; a re-run with "
                     "--retry-errors asks again for every generation error and every judge call without a "
                     "valid reply (requests that got no reply are sent again; replies already received "
                     "come from the cache)")
    print("\n".join(lines))


def _stored_url(base_url: str) -> str:
    """The base URL as stored: without the credentials it may carry (they travel as headers)."""
    from collect.client import strip_url_credentials
    return strip_url_credentials(base_url)
