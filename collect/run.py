"""The collect loop: generate each pair, judge it blind, write rows as they complete."""

from __future__ import annotations

import asyncio
import collections
import sys
import time
from dataclasses import dataclass, field

from warehouse.keys import judgment_id
from collect.client import ChatClient, ChatResult, Stats
from collect.judges import JudgeOutputError, Prompts, parse_reply
from warehouse.judge_schema import CRITERIA, STYLE_DIMS
from collect.plan import PlanItem
from collect.store import Store, now


@dataclass
class RunConfig:
    measurement_id: str
    load_id: str
    generator: str
    judges: list[str]
    gen_params: dict
    judge_params: dict
    concurrency: int = 16
    progress: bool = True


@dataclass
class Counters:
    planned: int = 0
    already_done: int = 0     # pairs with nothing left to do when the run started
    pairs_done: int = 0       # pairs finished (success or error) by this run
    pair_errors: int = 0      # pairs whose generation failed (this run)
    judgments: int = 0        # judgment rows written by this run
    judge_errors: int = 0     # ... of which error rows
    judge_retries: int = 0    # validation retries (a second call with the reason)
    elapsed: float = 0.0
    error_samples: list = field(default_factory=list)


def user_prompt(prompts: Prompts, scenario: str) -> str:
    memo = prompts.memo
    text = memo.get(scenario)
    if text is None:
        text = memo[scenario] = prompts.render("generation", scenario=scenario)
    return text


def generation_messages(item: PlanItem, prompts: Prompts, pole: str) -> list[dict]:
    system = item.pos_system if pole == "pos" else item.neg_system
    return [{"role": "system", "content": system},
            {"role": "user", "content": user_prompt(prompts, item.scenario.text)}]


def generation_error(pole: str, res: ChatResult) -> str | None:
    if res.error:
        return f"{pole} generation failed: {res.error}"
    if res.content is None or not res.content.strip():
        return f"{pole} generation empty"
    if res.finish_reason == "length":
        return f"{pole} generation truncated (finish_reason=length)"
    return None


def judge_context(item: PlanItem, criterion: str, pos_response: str, neg_response: str) -> dict:
    pp = item.persona_pair
    a, b = (pos_response, neg_response) if item.pos_label == "A" else (neg_response, pos_response)
    ctx = {"scenario": item.scenario.text, "response_a": a, "response_b": b}
    if criterion == "positive_axis":
        ctx.update(target_persona=pp.pos, target_behavior=pp.positive_behavior)
    elif criterion == "negative_axis":
        ctx.update(target_persona=pp.neg, target_behavior=pp.negative_behavior)
    elif criterion == "style":
        ctx.update(dims=STYLE_DIMS)
    else:
        ctx.update(pos_persona=pp.pos, neg_persona=pp.neg, positive_behavior=pp.positive_behavior,
                   negative_behavior=pp.negative_behavior)
    return ctx


class Collector:
    def __init__(self, cfg: RunConfig, plan: list[PlanItem], store: Store, client: ChatClient,
                 prompts: Prompts, *, retry_errors: bool = False, local_generator=None,
                 local_batch_size: int = 8):
        self.cfg = cfg
        self.plan = plan
        self.store = store
        self.client = client
        self.prompts = prompts
        self.stats: Stats = client.stats
        self.counters = Counters(planned=len(plan))
        self.local_generator = local_generator
        self.local_batch_size = local_batch_size
        judge_hash = prompts.judge_set_hash()
        self.hashes = {c: judge_hash for c in CRITERIA}
        self.pairs = store.existing_pairs(cfg.measurement_id)
        self.done = store.done_judgments(cfg.measurement_id, include_errors=not retry_errors)
        self.bar = None

    # ------------------------------------------------------------------ helpers
    def _todo_judgments(self, item: PlanItem) -> list[tuple[str, str]]:
        return [(j, c) for j in self.cfg.judges for c in CRITERIA
                if (item.pair_id, j, c, self.hashes[c]) not in self.done]

    def _pending(self, item: PlanItem) -> bool:
        got = self.pairs.get(item.pair_id)
        if got is None:
            return True
        if got[2] is not None:      # generation error row: final for this measurement
            return False
        return bool(self._todo_judgments(item))

    def _pair_row(self, item: PlanItem, pos: str | None, neg: str | None, error: str | None) -> dict:
        pp = item.persona_pair
        return {
            "pair_id": item.pair_id, "load_id": self.cfg.load_id,
            "measurement_id": self.cfg.measurement_id, "template_text": item.template.text,
            "persona_pair_id": pp.id, "pos_persona": pp.pos, "neg_persona": pp.neg,
            "scenario_id": item.scenario.id, "scenario_text": item.scenario.text,
            "sample_idx": item.sample_idx, "pos_label": item.pos_label,
            "pos_prompt": item.pos_system, "neg_prompt": item.neg_system,
            # what was sent, stored so extract teacher-forces the same prompt (never rebuilt)
            "pos_messages": generation_messages(item, self.prompts, "pos"),
            "neg_messages": generation_messages(item, self.prompts, "neg"),
            "pos_response": pos, "neg_response": neg, "generator_model": self.cfg.generator,
            "error": error,
            "extra": {"source": "collect", "template_jinja": item.template.jinja,
                      "user_prompt": user_prompt(self.prompts, item.scenario.text),
                      "generation_prompt_hash": self.prompts.hash("generation"),
                      "gen_params": self.cfg.gen_params,
                      "positive_behavior": pp.positive_behavior,
                      "negative_behavior": pp.negative_behavior},
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
        pos_res, neg_res = await asyncio.gather(
            self.client.chat(self.cfg.generator, generation_messages(item, self.prompts, "pos"),
                             self.cfg.gen_params),
            self.client.chat(self.cfg.generator, generation_messages(item, self.prompts, "neg"),
                             self.cfg.gen_params))
        error = generation_error("pos", pos_res) or generation_error("neg", neg_res)
        self._write_pair(item, pos_res.content, neg_res.content, error)
        return error is None

    def _judge_messages(self, item: PlanItem, criterion: str, pos: str, neg: str) -> list[dict]:
        text = self.prompts.render(criterion, **judge_context(item, criterion, pos, neg))
        return [{"role": "user", "content": text}]

    async def _judge(self, item: PlanItem, judge: str, criterion: str, messages: list[dict],
                     key: str | None = None):
        output, raw, error = None, None, None
        for attempt in (1, 2):
            res = await self.client.chat(judge, messages, self.cfg.judge_params,
                                         key=key if attempt == 1 else None)
            if res.error:
                if attempt == 1:
                    raw, error = None, res.error
                else:   # keep the first, invalid reply and say why it was asked again
                    error = f"{error}; asking again failed: {res.error}"
                break
            raw = res.content
            try:
                output = parse_reply(criterion, raw)
                error = None
                break
            except JudgeOutputError as exc:
                error = f"invalid judge output: {exc}"
                if res.finish_reason == "length":
                    error += " (finish_reason=length)"
                if attempt == 1:
                    self.counters.judge_retries += 1
                    messages = messages + [
                        {"role": "assistant", "content": raw or ""},
                        {"role": "user", "content": self.prompts.render("retry", reason=str(exc))}]
        if error is not None:
            error = self.client.redact(error)
            raw = self.client.redact(raw)
            output = None
            self.counters.judge_errors += 1
            if len(self.counters.error_samples) < 5:
                self.counters.error_samples.append(f"{item.pair_id} {judge} {criterion}: {error}")
        phash = self.hashes[criterion]
        self.store.add("raw.judgments", {
            "judgment_id": judgment_id(item.pair_id, judge, phash, criterion,
                                       (raw or "") + "\x1f" + (error or "")),
            "pair_id": item.pair_id, "measurement_id": self.cfg.measurement_id,
            "load_id": self.cfg.load_id, "judge_model": judge, "criterion": criterion,
            "prompt_hash": phash, "pos_label": item.pos_label, "output": output,
            "raw_text": raw, "error": error, "loaded_at": now()})
        self.done.add((item.pair_id, judge, criterion, phash))
        self.counters.judgments += 1

    async def _pair(self, item: PlanItem):
        got = self.pairs.get(item.pair_id)
        if got is None:
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
            key = self.client.key(judge, messages, self.cfg.judge_params)
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
        need = [it for it in items if it.pair_id not in self.pairs]
        if not need:
            return
        gen = self.local_generator
        if callable(gen) and not hasattr(gen, "generate_batch"):
            gen = self.local_generator = await asyncio.to_thread(gen)   # load the model now
        max_tokens = int(self.cfg.gen_params.get("max_tokens", 400))
        temperature = float(self.cfg.gen_params.get("temperature", 0.0))
        for i in range(0, len(need), self.local_batch_size):
            batch = need[i:i + self.local_batch_size]
            msgs = []
            for it in batch:
                msgs.append(generation_messages(it, self.prompts, "pos"))
                msgs.append(generation_messages(it, self.prompts, "neg"))
            try:
                outs = await asyncio.to_thread(gen.generate_batch, msgs, max_tokens, temperature)
            except Exception as exc:  # a crash of the local model marks this batch only
                outs = None
                err = f"local generation failed: {type(exc).__name__}: {exc}"
            for k, it in enumerate(batch):
                if outs is None:
                    self._write_pair(it, None, None, err)
                    continue
                pos, neg = outs[2 * k], outs[2 * k + 1]
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
            if self.local_generator is not None:
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
        return self.counters
