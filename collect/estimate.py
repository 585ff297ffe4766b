"""What a plan will cost before it runs: calls, tokens and, from the price table, dollars.

Prompt tokens are counted from the rendered prompts (4 characters a token); completion
tokens are the mean the warehouse has seen for that model and kind of call when it has
seen any (raw.api_calls), else a typical length (TYPICAL_COMPLETION_TOKENS). Judge
prompts hold both completions, so their size follows the generation estimate. Prices
come from dbt/seeds/model_prices.csv by `collect.prices`, the table and rule dbt's `costs` uses.
"""

from __future__ import annotations

from collections import defaultdict

from collect.plan import PlanItem
from collect.prices import WHERE_TO_ADD, call_cost, prices
from collect.run import RunConfig, judge_context, prompt_name

CHARS_PER_TOKEN = 4
# 80-140 words of answer; an axis reply is a sentence and a number; style and confound
# replies list 40-odd and 20-odd numbers with their keys
TYPICAL_COMPLETION_TOKENS = {"generation": 190, "axis": 60, "style": 520, "confound": 330}


def kind_of(purpose: str | None) -> str:
    purpose = purpose or ""
    return "generation" if purpose.startswith("generation") else prompt_name(purpose)


def observed_completion_tokens(con) -> dict[tuple[str, str], float]:
    """{(model, kind): mean completion tokens} of the calls the warehouse has paid for."""
    if con is None:
        return {}
    have = {c for (c,) in con.execute("select column_name from information_schema.columns "
                                      "where table_schema = 'raw' and table_name = 'api_calls'").fetchall()}
    if "purpose" not in have:
        return {}
    rows = con.execute("select model, purpose, sum(completion_tokens), count(*) from raw.api_calls "
                       "where purpose is not null and completion_tokens > 0 group by all").fetchall()
    sums = defaultdict(lambda: [0, 0])
    for model, purpose, tokens, n in rows:
        acc = sums[(model, kind_of(purpose))]
        acc[0] += tokens
        acc[1] += n
    return {key: total / n for key, (total, n) in sums.items()}


class _Tally:
    def __init__(self):
        self.by_model = defaultdict(lambda: {"calls": 0, "prompt_tokens": 0.0, "completion_tokens": 0.0})

    def add(self, model: str, prompt_chars: int, completion_tokens: float) -> None:
        row = self.by_model[model]
        row["calls"] += 1
        row["prompt_tokens"] += prompt_chars / CHARS_PER_TOKEN
        row["completion_tokens"] += completion_tokens


def estimate(plan: list[PlanItem], cfg: RunConfig, prompts, observed: dict | None = None,
             price_table: dict | None = None) -> dict:
    """Calls, tokens and cost of every planned pair, per model and in all."""
    observed = observed or {}
    price_table = prices() if price_table is None else price_table

    def completion(model: str, kind: str) -> float:
        return observed.get((model, kind), TYPICAL_COMPLETION_TOKENS[kind])

    tally = _Tally()
    overhead = {}   # judge prompt characters that do not depend on the pair
    baselines = set()   # anchored: one no-persona answer per generator and scenario
    for item in plan:
        gen_tokens = completion(item.generator, "generation")
        for messages in ([item.pos_messages] if item.same_prompts else [item.pos_messages, item.neg_messages]):
            tally.add(item.generator, sum(len(m["content"]) for m in messages), gen_tokens)
        if cfg.protocol == "anchored" and (item.generator, item.scenario.id) not in baselines:
            baselines.add((item.generator, item.scenario.id))
            base = prompts.generation_messages("", item.scenario.text, item.scenario.self_contained)
            tally.add(item.generator, sum(len(m["content"]) for m in base), gen_tokens)
        response_chars = int(gen_tokens * CHARS_PER_TOKEN)
        for judge, criterion in cfg.criteria():
            name = prompt_name(criterion)
            if name not in overhead:
                blank = judge_context(item, criterion, "", "")
                blank.update(scenario="", **{k: "" for k in ("target_behavior", "positive_behavior",
                                                              "negative_behavior") if k in blank})
                overhead[name] = len(prompts.render(name, **blank))
            ctx = judge_context(item, criterion, "", "")
            variable = sum(len(ctx.get(k, "")) for k in ("scenario", "target_behavior",
                                                          "positive_behavior", "negative_behavior"))
            # a bounded-thinking axis call is at least its N samples
            samples = cfg.axis_judge_n if cfg.axis_judge_method == "bounded_thinking" and \
                criterion.startswith(("pos_base", "neg_base")) else 1
            for _ in range(samples):
                tally.add(judge, overhead[name] + variable + 2 * response_chars, completion(judge, name))
    return _priced(tally, price_table, len(plan))


def _priced(tally: _Tally, price_table: dict, n_pairs: int) -> dict:
    models, total = {}, {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}
    unpriced = []
    for model, row in sorted(tally.by_model.items()):
        cost = call_cost(price_table, model, row["prompt_tokens"], row["completion_tokens"])
        if cost is None:
            unpriced.append(model)
        models[model] = {"calls": row["calls"], "prompt_tokens": round(row["prompt_tokens"]),
                         "completion_tokens": round(row["completion_tokens"]), "cost": cost}
        for key in ("calls", "prompt_tokens", "completion_tokens"):
            total[key] += models[model][key]
        total["cost"] += cost or 0.0
    return {"pairs": n_pairs, "models": models, "total": total, "unpriced_models": unpriced}


def describe(est: dict) -> str:
    """A few lines for the terminal."""
    t = est["total"]
    per_pair = (t["cost"] / est["pairs"]) if est["pairs"] else 0.0
    lines = [f"estimate: {est['pairs']} pairs, {t['calls']} calls, ~{t['prompt_tokens']:,} prompt + "
             f"~{t['completion_tokens']:,} completion tokens, ~${t['cost']:.4f} "
             f"(~${per_pair:.6f} a pair)"]
    for model, row in est["models"].items():
        cost = "no price" if row["cost"] is None else f"~${row['cost']:.4f}"
        lines.append(f"  {model}: {row['calls']} calls, ~{row['prompt_tokens']:,} + "
                     f"~{row['completion_tokens']:,} tokens, {cost}")
    if est["unpriced_models"]:
        lines.append(f"  the cost leaves out {len(est['unpriced_models'])} model(s) without a price: "
                     f"{', '.join(est['unpriced_models'])}; for each, {WHERE_TO_ADD}")
    return "\n".join(lines)
