"""What a run sends, fitted to what the probe found (collect/probe.py), decided before any call.

- A model the server does not list is refused (on a server that lists its models).
- `seed` goes to the models whose server accepted one.
- `--judge-output`: `schema` (the judge reply's JSON schema, warehouse/judge_schema.json_schema,
  in the first flavour the server accepted), `object` (plain JSON mode), `prompt` (nothing but the
  prompt) or `auto` (schema, else object, else prompt).
- A call that cannot fit the model's context (prompt + max tokens, and for a judge the re-ask:
  the invalid reply and a second answer) is refused with one line.
- Concurrency is capped at the server's slots where it reports them.
"""

from __future__ import annotations

from collect.estimate import CHARS_PER_TOKEN
from collect.probe import SCHEMA_FLAVOURS
from collect.run import judge_context, prompt_name
from warehouse.errors import UserError

MODES = ("auto", "schema", "object", "prompt")


def check_models(findings: dict, generators: list[str], judges: list[str]) -> None:
    listed = findings.get("listed_models")
    for flag, models in (("--generator", generators), ("--judge", judges)):
        for model in models:
            if listed is not None and model not in listed and f"{model}:latest" not in listed:   # Ollama's tag
                shown = ", ".join(listed[:5]) + (", ..." if len(listed) > 5 else "")
                raise UserError(f"{flag} {model}: the server at {findings['base_url']} does not serve this "
                                f"model (its /models lists: {shown or 'none'})")


def judge_flavour(mode: str, judge: str, findings: dict) -> str | None:
    """The structured-output flavour to send to one judge (None: the prompt alone)."""
    entry = findings.get("models", {}).get(judge)
    accepted = None if entry is None or entry.get("error") else entry.get("judge_output", [])
    if mode == "prompt":
        return None
    if accepted is None:            # not probed (a replay of an older run, a probe that failed)
        return {"schema": "json_schema", "object": "json_object"}.get(mode)
    schema = next((f for f in SCHEMA_FLAVOURS if f in accepted), None)
    plain = "json_object" if "json_object" in accepted else None
    if mode == "schema" and schema is None:
        raise UserError(f"--judge-output schema: the server at {findings['base_url']} accepted no JSON "
                        f"schema for {judge} (tried: {', '.join(SCHEMA_FLAVOURS)}); use --judge-output "
                        f"object or prompt")
    if mode == "object" and plain is None:
        raise UserError(f"--judge-output object: the server at {findings['base_url']} refused "
                        f"response_format json_object for {judge}; use --judge-output prompt")
    return {"schema": schema, "object": plain}.get(mode, schema or plain)


def apply(cfg, params: dict, findings: dict, mode: str, seed: int) -> None:
    """Fit the run's config to the findings (the models checked first) and record them."""
    check_models(findings, params["generators"], [*cfg.axis_judges, cfg.style_judge])
    models = findings.get("models", {})
    cfg.seed = seed
    cfg.seed_models = frozenset(m for m, entry in models.items() if entry.get("seed") and not entry.get("error"))
    cfg.judge_output = {judge: judge_flavour(mode, judge, findings)
                        for judge in dict.fromkeys([*cfg.axis_judges, cfg.style_judge])}
    if findings.get("slots"):
        cfg.concurrency = min(cfg.concurrency, findings["slots"])
    params.update(server=findings, judge_output=mode, judge_output_flavours=cfg.judge_output,
                  seeds_sent_to=sorted(cfg.seed_models))


def _tokens(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


def context_problem(plan, cfg, prompts, findings: dict) -> str | None:
    """The first call that cannot fit its model's context, as one line; None when all fit."""
    models = findings.get("models", {})
    gen_max, judge_max = cfg.gen_params["max_tokens"], cfg.judge_params["max_tokens"]

    def context(model):
        return (models.get(model) or {}).get("context_length")

    for generator in dict.fromkeys(item.generator for item in plan):
        ctx = context(generator)
        if not ctx:
            continue
        longest = max((sum(len(m["content"]) for m in msgs) for item in plan if item.generator == generator
                       for msgs in (item.pos_messages, item.neg_messages)), default=0)
        need = _tokens(longest) + gen_max
        if need > ctx:
            return (f"generation ({generator}): ~{need:,} tokens (prompt ~{_tokens(longest):,} + --max-tokens "
                    f"{gen_max}) do not fit the server's context of {ctx:,} tokens at {findings['base_url']}; "
                    f"give the server a larger context (llama.cpp: -c) or lower --max-tokens")
    reply = "x" * (gen_max * CHARS_PER_TOKEN)       # the longest reply a judge can be shown
    retry = _tokens(len(prompts.render("retry", reason="x" * 200)))
    for judge, criterion in cfg.criteria():
        ctx = context(judge)
        if not ctx:
            continue
        item = max(plan, key=lambda it: sum(len(str(v)) for v in judge_context(it, criterion, "", "").values()
                                            if isinstance(v, str)))
        prompt = _tokens(len(prompts.render(prompt_name(criterion),
                                            **judge_context(item, criterion, reply, reply))))
        need = prompt + retry + 2 * judge_max
        if need > ctx:
            return (f"judge call {criterion} ({judge}): ~{need:,} tokens (prompt ~{prompt:,} with two replies "
                    f"of up to --max-tokens {gen_max}, + 2 x --judge-max-tokens {judge_max} for the answer "
                    f"and a re-ask) do not fit the server's context of {ctx:,} tokens at "
                    f"{findings['base_url']}; give the server a larger context (llama.cpp: -c) or lower "
                    f"--judge-max-tokens / --max-tokens")
    return None
