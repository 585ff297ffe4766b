"""The collect loop: generate each pair, judge it blind, write rows as they complete.

Per pair (the v3 protocol, warehouse/judge_schema.py): one generation per pole (one in all
when both poles get the same prompt: the control arm), then per axis judge the positive and
the negative target, each asked in the forward A/B order and (with judge_orders=2) again
with the two texts swapped; then one style and one confound call by the style judge.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field

from collect.client import ChatClient, ChatResult, Stats
from collect.judges import JudgeOutputError, Prompts, parse_reply
from collect.plan import PlanItem
from collect.probe import SCHEMA_FLAVOURS, output_fields
from collect.store import Store, now
from warehouse.judge_schema import json_schema as judge_json_schema, panel
from warehouse.keys import judgment_id

ORDERS = ("forward", "reverse")
# the baseline-anchored protocol (collect/anchored.py): each pole against the no-persona answer
ANCHORED_AXIS_CRITERIA = ("pos_base_forward", "pos_base_reverse", "neg_base_forward", "neg_base_reverse")


def reply_criterion(criterion: str) -> str:
    """The criterion whose reply keys a call's reply has: an anchored axis call asks v3's axis question."""
    return "positive_axis_forward" if criterion in ANCHORED_AXIS_CRITERIA else criterion


@functools.cache
def _reply_schema(criterion: str) -> dict:
    return judge_json_schema(reply_criterion(criterion), "v3")


@dataclass
class RunConfig:
    load_id: str
    axis_judges: list[str]
    style_judge: str
    gen_params: dict
    judge_params: dict
    judge_orders: int = 2
    concurrency: int = 16
    progress: bool = True
    seed: int | None = None                 # --seed: each call's `seed` derives from it ...
    seed_models: frozenset = frozenset()    # ... for the models whose server accepts one
    judge_output: dict = field(default_factory=dict)   # judge -> structured-output flavour (None: prompt)
    protocol: str = "v3"                    # or "anchored" (collect/anchored.py)
    axis_judge_method: str = "json"         # or "bounded_thinking" (collect/bounded.py)
    axis_judge_n: int = 2
    axis_judge_budget: int = 4096

    def gen_params_for(self, model: str, messages: list[dict]) -> dict:
        return {**self.gen_params, **self._seed(model, messages)}

    def judge_params_for(self, judge: str, criterion: str, messages: list[dict]) -> dict:
        # named by the prompt, not the criterion: the two orders of one question with identical
        # texts stay one identical request
        fields = output_fields(self.judge_output.get(judge), _reply_schema(criterion),
                               f"psw_{prompt_name(criterion)}")
        return {**self.judge_params, **fields, **self._seed(judge, messages)}

    def _seed(self, model: str, messages: list[dict]) -> dict:
        """A seed per call, from --seed and what is asked: identical requests (the control arm's
        twins) stay identical, so they are still made once."""
        if self.seed is None or model not in self.seed_models:
            return {}
        blob = json.dumps([self.seed, model, messages], sort_keys=True, ensure_ascii=False)
        return {"seed": int(hashlib.sha256(blob.encode("utf-8")).hexdigest()[:8], 16) % 2 ** 31}

    def calls_besides_generation(self) -> int:
        """Calls one pair costs besides its pole generations: its judge calls (a bounded-thinking
        axis call at least its N samples) and, anchored, the baseline answer."""
        axis = sum(c in ANCHORED_AXIS_CRITERIA for _, c in self.criteria())
        per_axis = self.axis_judge_n if self.axis_judge_method == "bounded_thinking" else 1
        return len(self.criteria()) + axis * (per_axis - 1) + (self.protocol == "anchored")

    def criteria(self) -> list[tuple[str, str]]:
        """(judge model, criterion) of every judge call one pair needs."""
        axis = list(ANCHORED_AXIS_CRITERIA) if self.protocol == "anchored" else \
            [f"{target}_axis_{order}" for target in ("positive", "negative") for order in ORDERS[:self.judge_orders]]
        return [(judge, c) for judge in self.axis_judges for c in axis] + \
            [(self.style_judge, "style"), (self.style_judge, "confound")]


@dataclass
class Counters:
    planned: int = 0
    already_done: int = 0     # pairs with nothing left to do when the run started
    pairs_done: int = 0       # pairs finished (success or error) by this run
    pair_errors: int = 0      # pairs whose generation failed (this run)
    judgments: int = 0        # judgment rows written by this run
    judge_errors: int = 0     # ... of which error rows
    judge_retries: int = 0    # validation retries (a second call with the reason)
    schema_refused: int = 0   # replies under a JSON schema that the validator still refused
    complete: int = 0         # planned pairs generated and fully judged (this run or before)
    elapsed: float = 0.0
    error_samples: list = field(default_factory=list)


def generation_error(pole: str, res: ChatResult, max_tokens: int | None = None) -> str | None:
    if res.error:
        return f"{pole} generation failed: {res.error}"
    if res.content is None or not res.content.strip():
        return f"{pole} generation empty"
    if res.finish_reason == "length":
        return f"{pole} generation truncated (finish_reason=length{shortened(res, max_tokens)})"
    return None


def shortened(res: ChatResult, max_tokens: int | None) -> str:
    """Said of a reply cut at fewer tokens than max_tokens: the server shortened it (a local
    server whose context was full), not the max_tokens setting."""
    if max_tokens and not res.cached and 0 < res.completion_tokens < max_tokens:
        return (f"; the server stopped it at {res.completion_tokens} of max_tokens {max_tokens}: "
                "its context is full")
    return ""


def judge_context(item: PlanItem, criterion: str, pos_response: str, neg_response: str,
                  base_response: str = "") -> dict:
    """The variables of one judge prompt. Response A is the A-labelled text, except in a
    `*_reverse` call, which asks the same question with the two texts swapped. An anchored
    call (`pos_base_*`, `neg_base_*`) shows the pole first and the baseline answer second
    (forward), or the other way round (reverse), and asks about that pole's target."""
    pp = item.persona_pair
    a, b = (pos_response, neg_response) if item.pos_label == "A" else (neg_response, pos_response)
    if criterion in ANCHORED_AXIS_CRITERIA:
        a, b = (pos_response if criterion.startswith("pos_") else neg_response), base_response
    if criterion.endswith("_reverse"):
        a, b = b, a
    ctx = {"scenario": item.scenario.text, "response_a": a, "response_b": b}
    if criterion.startswith(("positive_axis", "pos_base")):
        ctx.update(target_behavior=pp.positive_behavior)
    elif criterion.startswith(("negative_axis", "neg_base")):
        ctx.update(target_behavior=pp.negative_behavior)
    elif criterion == "style":
        ctx.update(dims=panel("style"))
    else:
        ctx.update(categories=panel("off_axis"), positive_behavior=pp.positive_behavior,
                   negative_behavior=pp.negative_behavior)
    return ctx


def prompt_name(criterion: str) -> str:
    return "axis" if "_axis_" in criterion or criterion in ANCHORED_AXIS_CRITERIA else criterion


class Collector:
    def __init__(self, cfg: RunConfig, plan: list[PlanItem], store: Store, client: ChatClient,
                 prompts: Prompts, *, retry_errors: bool = False, local_generators: dict | None = None,
                 local_batch_size: int = 8):
        self.cfg = cfg
        self.plan = plan
        self.store = store
        self.client = client
        self.prompts = prompts
        self.stats: Stats = client.stats
        self.counters = Counters(planned=len(plan))
        self.local_generators = dict(local_generators or {})
        self.local_batch_size = local_batch_size
        self.retry_errors = retry_errors
        self.prompt_hash = prompts.judge_set_hash()
        self.generation_hash = prompts.generation_hash()
        self.needed = cfg.criteria()
        mids = sorted({item.measurement_id for item in plan})
        self.pairs = store.existing_pairs(mids)
        self.done = store.done_judgments(mids, include_errors=not retry_errors)
        self.ok = store.done_judgments(mids, include_errors=False)
        self.bar = None

    # ------------------------------------------------------------------ helpers
    def _todo_judgments(self, item: PlanItem, done: set | None = None) -> list[tuple[str, str]]:
        done = self.done if done is None else done
        return [(j, c) for j, c in self.needed if (item.pair_id, j, c, self.prompt_hash) not in done]

    def _needs_generation(self, item: PlanItem) -> bool:
        """No row yet, or only a generation error row and `--retry-errors` asks again."""
        got = self.pairs.get(item.pair_id)
        return got is None or (got[2] is not None and self.retry_errors)

    def _pending(self, item: PlanItem) -> bool:
        if self._needs_generation(item):
            return True
        if self.pairs[item.pair_id][2] is not None:   # generation error row, not retried
            return False
        return bool(self._todo_judgments(item))

    def is_complete(self, item: PlanItem) -> bool:
        got = self.pairs.get(item.pair_id)
        return got is not None and got[2] is None and not self._todo_judgments(item, self.ok)

    def _pair_row(self, item: PlanItem, pos: str | None, neg: str | None, error: str | None) -> dict:
        pp = item.persona_pair
        return {
            "pair_id": item.pair_id, "load_id": self.cfg.load_id,
            "measurement_id": item.measurement_id, "template_text": item.template.text,
            "persona_pair_id": pp.id, "pos_persona": item.pos_persona, "neg_persona": item.neg_persona,
            "scenario_id": item.scenario.id, "scenario_text": item.scenario.text,
            "sample_idx": item.sample_idx, "pos_label": item.pos_label,
            "pos_prompt": item.user_turn(item.pos_messages), "neg_prompt": item.user_turn(item.neg_messages),
            "pos_response": pos, "neg_response": neg, "generator_model": item.generator,
            "error": error, "source_run": None, "row_idx": item.row_idx,
            "pos_messages": item.pos_messages, "neg_messages": item.neg_messages,
            "prompt_set": self.prompts.layout,
            "extra": {"source": "collect", "template_jinja": item.template.jinja,
                      "generation_prompt_hash": self.generation_hash,
                      "gen_params": self.cfg.gen_params,
                      "generation_seeds": {pole: self.cfg.gen_params_for(item.generator, msgs).get("seed")
                                           for pole, msgs in (("pos", item.pos_messages),
                                                              ("neg", item.neg_messages))},
                      "pos_descriptor": pp.pos, "neg_descriptor": pp.neg,
                      "positive_behavior": pp.positive_behavior,
                      "negative_behavior": pp.negative_behavior,
                      "self_contained": item.scenario.self_contained},
            "loaded_at": now(),
        }

    def _write_pair(self, item, pos, neg, error):
        self.store.add("raw.pairs", self._pair_row(item, pos, neg, error))
        self.pairs[item.pair_id] = (pos, neg, error)
        if error:
            self.counters.pair_errors += 1
            if len(self.counters.error_samples) < 5:
                self.counters.error_samples.append(f"{item.pair_id}: {error}")

    def _tick(self):
        self.counters.pairs_done += 1
        if self.bar is not None:
            s = self.stats
            self.bar.update(1)
            self.bar.set_postfix_str(
                f"calls={s.calls} hits={s.cache_hits} err={self.counters.pair_errors + self.counters.judge_errors} "
                f"tok={s.tokens} ${s.cost:.4f}", refresh=False)

    # ------------------------------------------------------------------ one pair
    async def _generate(self, item: PlanItem) -> bool:
        """Both generations; writes the pair row. True when the pair can be judged."""
        def call(pole, messages):
            return self.client.chat(item.generator, messages, self.cfg.gen_params_for(item.generator, messages),
                                    tag={"pair_id": item.pair_id, "purpose": f"generation{pole}"})

        if item.same_prompts:   # the control arm: one completion serves both poles
            pos_res = neg_res = await call("", item.pos_messages)
        else:
            pos_res, neg_res = await asyncio.gather(call("_pos", item.pos_messages),
                                                    call("_neg", item.neg_messages))
        max_tokens = self.cfg.gen_params.get("max_tokens")
        error = generation_error("pos", pos_res, max_tokens) or generation_error("neg", neg_res, max_tokens)
        self._write_pair(item, pos_res.content, neg_res.content, error)
        return error is None

    def _judge_messages(self, item: PlanItem, criterion: str, pos: str, neg: str) -> list[dict]:
        text = self.prompts.render(prompt_name(criterion), **judge_context(item, criterion, pos, neg))
        return [{"role": "user", "content": text}]

    async def _ask(self, item, judge, criterion, messages, key):
        """(output, raw text, error): the reply validated, asked again once with the reason."""
        output, raw, error = None, None, None
        tag = {"pair_id": item.pair_id, "purpose": criterion}
        for attempt in (1, 2):
            res = await self.client.chat(judge, messages, self.cfg.judge_params_for(judge, criterion, messages),
                                         key=key if attempt == 1 else None, tag=tag)
            if res.error:
                if attempt == 1:
                    raw, error = None, res.error
                else:   # keep the first, invalid reply and say why it was asked again
                    error = f"{error}; asking again failed: {res.error}"
                break
            raw = res.content
            try:
                return parse_reply(reply_criterion(criterion), raw), raw, None
            except JudgeOutputError as exc:
                error = f"invalid judge output: {exc}"
                if res.finish_reason == "length":
                    error += f" (finish_reason=length{shortened(res, self.cfg.judge_params.get('max_tokens'))})"
                if self.cfg.judge_output.get(judge) in SCHEMA_FLAVOURS:
                    self.counters.schema_refused += 1   # the schema allowed it; the validator did not
                if attempt == 1:
                    self.counters.judge_retries += 1
                    messages = messages + [
                        {"role": "assistant", "content": raw or ""},
                        {"role": "user", "content": self.prompts.render("retry", reason=str(exc))}]
        return output, raw, error

    async def _judge(self, item: PlanItem, judge: str, criterion: str, messages: list[dict],
                     key: str | None = None):
        output, raw, error = await self._ask(item, judge, criterion, messages, key)
        if error is not None:
            error = self.client.redact(error)
            raw = self.client.redact(raw)
            self.counters.judge_errors += 1
            if len(self.counters.error_samples) < 5:
                self.counters.error_samples.append(f"{item.pair_id} {judge} {criterion}: {error}")
        phash = self.prompt_hash
        self.store.add("raw.judgments", {
            "judgment_id": judgment_id(item.pair_id, judge, phash, criterion,
                                       (raw or "") + "\x1f" + (error or "")),
            "pair_id": item.pair_id, "measurement_id": item.measurement_id,
            "load_id": self.cfg.load_id, "judge_model": judge, "criterion": criterion,
            "prompt_hash": phash, "pos_label": item.pos_label, "output": output,
            "raw_text": raw, "error": error, "loaded_at": now()})
        self.done.add((item.pair_id, judge, criterion, phash))
        if error is None:
            self.ok.add((item.pair_id, judge, criterion, phash))
        self.counters.judgments += 1

    async def _pair(self, item: PlanItem):
        got = self.pairs.get(item.pair_id)
        if self._needs_generation(item):
            if not await self._generate(item):
                self._tick()
                return
            got = self.pairs[item.pair_id]
        elif got[2] is not None:
            self._tick()
            return
        pos, neg, _ = got
        calls = []
        for judge, criterion in self._todo_judgments(item):
            messages = self._judge_messages(item, criterion, pos, neg)
            key = self.client.key(judge, messages, self.cfg.judge_params_for(judge, criterion, messages))
            if key in self.client.cache:
                # answered from the cache: no task, no waiting (the replay fast path)
                await self._judge(item, judge, criterion, messages, key)
            else:
                calls.append(self._judge(item, judge, criterion, messages, key))
        if calls:
            await asyncio.gather(*calls)
        self._tick()

    async def _worker(self, queue: collections.deque):
        while queue:
            await self._pair(queue.popleft())
            # a pair answered wholly from the cache never suspends: yield so the flusher
            # (and Ctrl-C) get their turn and rows keep landing during a replay
            await asyncio.sleep(0)

    # ------------------------------------------------------------------ local generation
    async def _generate_local(self, items: list[PlanItem]):
        for generator, factory in self.local_generators.items():
            need = [it for it in items if it.generator == generator and self._needs_generation(it)]
            if need:
                gen = factory
                if callable(gen) and not hasattr(gen, "generate_batch"):
                    gen = self.local_generators[generator] = await asyncio.to_thread(gen)  # load now
                await self._local_batches(gen, need)

    async def _local_batches(self, gen, need: list[PlanItem]):
        max_tokens = int(self.cfg.gen_params.get("max_tokens", 400))
        temperature = float(self.cfg.gen_params.get("temperature", 0.0))
        for i in range(0, len(need), self.local_batch_size):
            batch = need[i:i + self.local_batch_size]
            msgs = [m for it in batch for m in (it.pos_messages, it.neg_messages)]
            try:
                outs = await asyncio.to_thread(gen.generate_batch, msgs, max_tokens, temperature)
            except Exception as exc:  # a crash of the local model marks this batch only
                outs = None
                err = f"local generation failed: {type(exc).__name__}: {exc}"
            for k, it in enumerate(batch):
                if outs is None:
                    self._write_pair(it, None, None, err)
                    continue
                pos, neg = outs[2 * k], outs[2 * k + (0 if it.same_prompts else 1)]
                error = None
                for pole, text in (("pos", pos), ("neg", neg)):
                    if error is None and (text is None or not str(text).strip()):
                        error = f"{pole} generation empty"
                self._write_pair(it, pos, neg, error)

    # ------------------------------------------------------------------ the run
    async def run(self) -> Counters:
        t0 = time.monotonic()
        pending = [it for it in self.plan if self._pending(it)]
        self.counters.already_done = len(self.plan) - len(pending)
        self.store.start()
        if self.cfg.progress:
            from tqdm import tqdm
            self.bar = tqdm(total=len(self.plan), initial=self.counters.already_done,
                            unit="pair", file=sys.stderr, mininterval=0.5, dynamic_ncols=True)
        try:
            if self.local_generators:
                await self._generate_local(pending)
            # a fixed pool of workers (pairs in flight = concurrency; each pair's calls run
            # in parallel, bounded by the client's HTTP slots): no task per planned pair
            queue = collections.deque(pending)
            workers = min(len(pending), max(1, self.cfg.concurrency))
            await asyncio.gather(*(self._worker(queue) for _ in range(workers)))
        finally:
            await self.store.stop()
            if self.bar is not None:
                self.bar.close()
            self.counters.elapsed = time.monotonic() - t0
        self.counters.complete = sum(self.is_complete(item) for item in self.plan)
        return self.counters
