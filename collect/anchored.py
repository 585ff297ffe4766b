"""The baseline-anchored protocol (`psw collect --protocol anchored`), upstream's newest.

Per pair, besides the two poles, the generator answers the scenario with no persona at all
(the baseline: the control arm's prompt, so one call per generator and scenario; the cache and
the client's in-flight sharing make every other pair's baseline free). Each axis judge then
compares each pole with the baseline, in both orders:

    pos_base_forward  A = positive answer, B = baseline, target = positive_behavior
    pos_base_reverse  A = baseline, B = positive answer
    neg_base_forward  A = negative answer, B = baseline, target = negative_behavior
    neg_base_reverse  A = baseline, B = negative answer

The style and confound calls compare the two poles, blind, as in v3. With
`--axis-judge-method bounded_thinking` the axis calls are sampled N times under a token budget
(collect/bounded.py). Collect stores the judge objects (raw.judgments, criterion as above) and
the baseline (raw.pairs.extra: `base_generation_prompt`, `base_messages`, `base_response`,
`control_pair`, `axis_judge_method`); every delta and score is dbt's (or, for the upstream
artifact `--artifact-out` writes, collect/artifact_out.py's per-judge deltas).
"""

from __future__ import annotations

import asyncio
import json

from collect import bounded
from collect.judges import Prompts
from collect.protocol import THRESHOLDS
from collect.run import ANCHORED_AXIS_CRITERIA, Collector, generation_error
from warehouse.errors import UserError
from warehouse.keys import text_hash

BOUNDED_PROMPT = "axis_bounded"
BOUNDED_FILE = "judge_axis_bounded.j2"


def prepare(prompts: Prompts, cfg) -> None:
    """Load the bounded-thinking axis prompt when the run uses it (it is not one of the v3
    judge files, so the v3 prompt hash and every stored v3 rating stay as they are)."""
    if cfg.protocol != "anchored" or cfg.axis_judge_method != "bounded_thinking":
        return
    path = prompts.directory / BOUNDED_FILE
    if not path.is_file():
        raise UserError(f"{path}:0: prompt file missing (the bounded-thinking axis judge's prompt)")
    prompts.texts[BOUNDED_PROMPT] = path.read_text(encoding="utf-8")


def prompt_hash(prompts: Prompts, cfg) -> str:
    """The judgments' prompt hash: the v3 judge files, plus what an anchored run asks differently
    (the protocol, the bounded prompt, N, the budget, the forced turn and sampling settings)."""
    if cfg.protocol != "anchored":
        return prompts.judge_set_hash()
    parts = [prompts.judge_set_hash(), "anchored", cfg.axis_judge_method]
    if cfg.axis_judge_method == "bounded_thinking":
        parts += [prompts.texts[BOUNDED_PROMPT], str(cfg.axis_judge_n), str(cfg.axis_judge_budget),
                  bounded.FORCE_PROMPT, json.dumps([bounded.THINK, bounded.FORCE], sort_keys=True)]
    return text_hash("\x1e".join(parts))


def check(args) -> None:
    """The anchored flags, each refused in one line naming it."""
    if getattr(args, "protocol", "v3") != "anchored":
        for flag, name, default in (("--axis-judge-method", "axis_judge_method", "json"),
                                    ("--exclude-confound-dims", "exclude_confound_dims", None),
                                    ("--artifact-out", "artifact_out", None)):
            if getattr(args, name, default) not in (default, [], ""):
                raise UserError(f"{flag}: only with --protocol anchored")
        return
    if args.judge_orders != 2:
        raise UserError("--judge-orders: the anchored protocol asks both orders (leave it at 2)")
    if any(g.startswith("hf:") for g in args.generator):
        raise UserError("--generator: the anchored protocol generates over an API (hf: is not supported)")
    if getattr(args, "artifact_out", None) is not None and len(set(args.generator)) != 1:
        raise UserError("--artifact-out: an artifact holds one generator's run; give one --generator")
    if args.axis_judge_n < 1:
        raise UserError(f"--axis-judge-n {args.axis_judge_n}: must be at least 1")
    if args.axis_judge_budget < 1:
        raise UserError(f"--axis-judge-budget {args.axis_judge_budget}: must be at least 1")
    from warehouse.judge_schema import panel
    known = set(panel("off_axis"))
    unknown = [d for d in exclude_dims(args) if d not in known]
    if unknown:
        raise UserError(f"--exclude-confound-dims: unknown off-axis categor{'y' if len(unknown) == 1 else 'ies'} "
                        f"{', '.join(unknown)} (known: {', '.join(sorted(known))})")


def exclude_dims(args) -> list[str]:
    value = getattr(args, "exclude_confound_dims", None) or []
    items = value if isinstance(value, list) else [value]
    return sorted({d.strip() for item in items for d in str(item).split(",") if d.strip()})


def params(args) -> dict:
    """What an anchored measurement records of itself (raw.measurements.params): upstream's
    artifact top-level fields."""
    return {"judge_protocol": "anchored", "protocol": "anchored", "axis_judge_method": args.axis_judge_method,
            "axis_judge_n": args.axis_judge_n, "axis_judge_budget": args.axis_judge_budget,
            "exclude_confound_dims": exclude_dims(args),
            **{name: getattr(args, name) for name in THRESHOLDS}}


class AnchoredCollector(Collector):
    """Collector with the no-persona baseline and the anchored axis calls."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.prompt_hash = prompt_hash(self.prompts, self.cfg)
        mids = sorted({item.measurement_id for item in self.plan})
        self.base = _stored_baselines(self.store, mids)

    def base_messages(self, item) -> list[dict]:
        sc = item.scenario
        return self.prompts.generation_messages("", sc.text, sc.self_contained)

    async def _generate(self, item) -> bool:
        def call(purpose, messages):
            return self.client.chat(item.generator, messages, self.cfg.gen_params_for(item.generator, messages),
                                    tag={"pair_id": item.pair_id, "purpose": purpose})

        base_messages = self.base_messages(item)
        if item.same_prompts:   # the control arm: its prompt is the baseline's, one call serves all three
            pos_res = neg_res = await call("generation", item.pos_messages)
            base_res = await call("generation_base", base_messages)
        else:
            pos_res, neg_res, base_res = await asyncio.gather(
                call("generation_pos", item.pos_messages), call("generation_neg", item.neg_messages),
                call("generation_base", base_messages))
        max_tokens = self.cfg.gen_params.get("max_tokens")
        error = (generation_error("pos", pos_res, max_tokens) or generation_error("neg", neg_res, max_tokens)
                 or generation_error("base", base_res, max_tokens))
        self.base[item.pair_id] = base_res.content
        self._write_pair(item, pos_res.content, neg_res.content, error)
        return error is None

    def _pair_row(self, item, pos, neg, error) -> dict:
        row = super()._pair_row(item, pos, neg, error)
        messages = self.base_messages(item)
        row.update(base_prompt=item.user_turn(messages), base_response=self.base.get(item.pair_id))
        row["extra"].update(protocol="anchored", base_generation_prompt=item.user_turn(messages),
                            base_messages=messages, base_response=self.base.get(item.pair_id),
                            control_pair=item.pos_persona == item.neg_persona,
                            axis_judge_method=self.cfg.axis_judge_method)
        return row

    def _judge_messages(self, item, criterion, pos, neg) -> list[dict]:
        if criterion not in ANCHORED_AXIS_CRITERIA:
            return super()._judge_messages(item, criterion, pos, neg)
        from collect.run import judge_context
        name = BOUNDED_PROMPT if self.cfg.axis_judge_method == "bounded_thinking" else "axis"
        ctx = judge_context(item, criterion, pos, neg, self.base.get(item.pair_id) or "")
        return [{"role": "user", "content": self.prompts.render(name, **ctx)}]

    async def _ask(self, item, judge, criterion, messages, key):
        if criterion not in ANCHORED_AXIS_CRITERIA or self.cfg.axis_judge_method != "bounded_thinking":
            return await super()._ask(item, judge, criterion, messages, key)
        seed = self.cfg.seed if judge in self.cfg.seed_models else None
        return await bounded.judge(self.client, judge, messages, n=self.cfg.axis_judge_n,
                                   budget=self.cfg.axis_judge_budget, seed=seed,
                                   tag={"pair_id": item.pair_id, "purpose": criterion},
                                   extra={k: v for k, v in self.cfg.judge_params.items() if k == "usage"})


def _stored_baselines(store, measurement_ids: list[str]) -> dict:
    """pair_id -> the baseline answer already stored (a resumed run judges without regenerating)."""
    con = getattr(store, "con", None)
    if con is None:
        return {}
    rows = con.execute(
        "select pair_id, extra ->> 'base_response' from raw.pairs where list_contains(?, measurement_id) "
        "qualify row_number() over (partition by pair_id order by error is null desc, loaded_at desc) = 1",
        [list(measurement_ids)]).fetchall()
    return {pair: base for pair, base in rows if base is not None}


def collector_class(cfg):
    return AnchoredCollector if cfg.protocol == "anchored" else Collector
