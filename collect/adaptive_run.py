"""An adaptive run, orchestrated: measure a round, build, read dbt's scores, drop, record.

Each round collects its pairs with the ordinary Collector (own connection, closed before the
build: DuckDB has one writer), then calls the build function it was given (`psw build`'s,
narrowed as usual to what the new rows reach), reads `template_pair_scores` and applies
collect.adaptive.eliminate. Every decision lands in raw.adaptive_decisions through
warehouse.append. A replay (`settings.replay_of`) answers every call from raw.api_calls: its
client cannot send a request, and the whole plan is checked against the cache before anything
is written, so a miss is one line and nothing half-written.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import math
from collections.abc import Callable

from collect import adaptive as A
from collect.client import ChatClient, Stats
from collect.anchored import collector_class
from collect.run import Counters, RunConfig
from collect.store import Store, now, record_run
from warehouse.append import append, transaction
from warehouse.db import connect
from warehouse.errors import UserError


class CacheMiss(Exception):
    def __init__(self, model: str, tag: dict | None):
        self.model, self.tag = model, tag or {}
        super().__init__(f"{model} {self.tag.get('purpose')}")


class CacheOnlyClient(ChatClient):
    """A ChatClient that answers from its cache and raises CacheMiss instead of sending a request."""

    async def _request(self, key, model, messages, params, tag):
        raise CacheMiss(model, tag)


class NullStore:
    """Keeps nothing: the replay's check runs the real Collector over the plan without writing."""

    def existing_pairs(self, measurement_ids):
        return {}

    def done_judgments(self, measurement_ids, include_errors=True):
        return set()

    def add(self, table, row):
        pass

    def start(self):
        pass

    async def stop(self):
        pass


@dataclasses.dataclass
class Runner:
    plan: list
    prompts: object
    cfg: RunConfig
    params: dict
    path: object
    settings: A.Settings
    base_url: str
    api_key: str | None
    client_opts: dict              # ChatClient keyword arguments (concurrency, timeout, retries)
    build: Callable[[], object]    # `psw build`'s function for this warehouse
    retry_errors: bool = False
    say: Callable[[str], None] = print

    def __post_init__(self):
        self.stats = Stats()
        self.cache: dict = {}
        # calls a pair costs besides its generations (an anchored pair's baseline counts here; a
        # bounded-thinking axis call at least its N samples)
        self.n_judge_calls = self.cfg.calls_besides_generation()
        self.measurement_id = self.plan[0].measurement_id
        self.generator = self.plan[0].generator

    # ------------------------------------------------------------------ the run
    def run(self) -> A.Result:
        full_mid = self._replayed() if self.settings.replay_of else None
        self._start(full_mid)
        result = A.Result(self.measurement_id, self.settings, counters=Counters(), stats=self.stats)
        self._rounds(result)
        if full_mid is not None:
            with connect(self.path, read_only=True) as con:
                result.full = A.read_full_run(con, full_mid, self.settings.top_k, self.n_judge_calls)
        return result

    def _replayed(self) -> str:
        """The stored measurement, found in the marts (built first if raw has news)."""
        given = self.settings.replay_of
        if self.measurement_id in (given, f"{given}/{self.generator}"):
            raise UserError(f"--measurement: a replay writes under a new measurement id, not {self.measurement_id}")
        self.build()
        with connect(self.path, read_only=True) as con:
            mid = A.resolve_measurement(con, given, self.generator)
        if mid == self.measurement_id:
            raise UserError(f"--measurement: a replay writes under a new measurement id, not {mid}")
        return mid

    def _start(self, full_mid: str | None) -> None:
        with connect(self.path) as con:
            store = Store(con)
            models = list(dict.fromkeys([self.generator, *self.cfg.axis_judges, self.cfg.style_judge]))
            self.cache = store.load_cache(self.base_url, models, reasoning_models=(
                tuple(self.cfg.axis_judges) if self.cfg.axis_judge_method == "bounded_thinking" else ()))
            if full_mid is not None:
                self._check_cache()
            record_run(store, self.plan, self.cfg, {**self.params, "adaptive": self.settings.as_params()})

    def _check_cache(self) -> None:
        client = CacheOnlyClient(self.base_url, None, cache=self.cache, **self.client_opts)
        collector = collector_class(self.cfg)(dataclasses.replace(self.cfg, progress=False), self.plan,
                                              NullStore(), client, self.prompts)
        try:
            asyncio.run(collector.run())
        except CacheMiss as miss:
            item = next(it for it in self.plan if it.pair_id == miss.tag.get("pair_id"))
            raise UserError(
                f"--replay-of {self.settings.replay_of}: cache miss: {miss.model} {miss.tag.get('purpose')} "
                f"for {A.cell_name((item.template.text, item.persona_pair.id))} scenario {item.scenario.id} "
                f"(a replay makes no HTTP request; give the stored run's flags and --base-url)") from None

    def _rounds(self, result: A.Result) -> None:
        s = self.settings
        cells = A.cells_of(self.plan)
        alive, measured, spent = list(cells), {key: 0 for key in cells}, 0
        size = s.size(max(len(items) for items in cells.values()))
        z = self.z = s.z_for(len(cells), math.ceil(max(len(items) for items in cells.values()) / size))
        self.say(f"bounds: score +- {z:.2f} x max(score_se, its floor) "
                 + ("(--z)" if s.z is not None else f"(union bound over {len(cells)} cells and the rounds, "
                                                     f"alpha {s.alpha})"))
        batch = A.next_round(cells, alive, measured, size, spent, s.budget, self.n_judge_calls)
        if not batch:
            raise UserError(f"--budget {s.budget}: less than one pair's calls "
                            f"({min(A.calls_per_pair(it, self.n_judge_calls) for it in self.plan)})")
        while batch:
            self._collect(batch, result.counters)
            spent += sum(A.calls_per_pair(item, self.n_judge_calls) for item in batch)
            for item in batch:
                measured[(item.template.text, item.persona_pair.id)] += 1
            self.build()
            with connect(self.path, read_only=True) as con:
                scores = A.read_scores(con, self.measurement_id)
            now_alive = [scores.get(key) or A.CellScore(key, None, 0, None, None) for key in alive]
            dropped = A.eliminate(now_alive, s.top_k, z)
            rnd = A.Round(len(result.rounds) + 1, len(alive), len(batch), spent, sorted(dropped))
            alive = [key for key in alive if key not in dropped]
            batch = A.next_round(cells, alive, measured, size, spent, s.budget, self.n_judge_calls) \
                if len(alive) > s.top_k else []
            stop = self._stop_reason(alive, cells, measured, batch)
            if stop:
                result.top = A.ranked([c for c in now_alive if c.key not in dropped])[:s.top_k]
            self._record(rnd, now_alive, dropped, stop, result.top)
            result.rounds.append(rnd)
            result.calls, result.stop_reason = spent, stop
            self.say(A.round_line(rnd, s.budget))

    def _stop_reason(self, alive, cells, measured, batch) -> str | None:
        if len(alive) <= self.settings.top_k:
            return A.STOP_TOP_K
        if all(measured[key] >= len(cells[key]) for key in alive):
            return A.STOP_COMPLETE
        return None if batch else A.STOP_BUDGET

    # ------------------------------------------------------------------ one round's pairs
    def _collect(self, batch: list, totals: Counters) -> None:
        with connect(self.path) as con:
            store = Store(con)

            async def main():
                make = CacheOnlyClient if self.settings.replay_of else ChatClient
                client = make(self.base_url, None if self.settings.replay_of else self.api_key,
                              cache=self.cache, stats=self.stats,
                              on_response=store.api_call_sink(batch, self.cfg.load_id), **self.client_opts)
                collector = collector_class(self.cfg)(self.cfg, batch, store, client, self.prompts,
                                                      retry_errors=self.retry_errors)
                try:
                    return await collector.run()
                finally:
                    await client.aclose()

            _add(totals, asyncio.run(main()))

    # ------------------------------------------------------------------ what was decided
    def _record(self, rnd: A.Round, cells: list[A.CellScore], dropped: set, stop: str | None,
                top: list[A.CellScore]) -> None:
        # the z the rule used (the union bound's when --z was not given), so the mart shows it
        settings = json.dumps({**self.settings.as_params(), "z": self.z}, sort_keys=True)
        rank = {c.key: i for i, c in enumerate(top, 1)}
        rows = [{
            "decision_id": hashlib.md5("\x1f".join([self.cfg.load_id, self.measurement_id, str(rnd.number),
                                                    *cell.key]).encode()).hexdigest(),
            "load_id": self.cfg.load_id, "measurement_id": self.measurement_id, "round": rnd.number,
            "cell_id": cell.cell_id, "template_text": cell.key[0], "persona_pair_id": cell.key[1],
            "n_pairs": cell.n, "score": cell.score, "score_se": cell.score_se,
            "decision": "dropped" if cell.key in dropped else ("kept" if cell.bounded else "kept_no_se"),
            "calls_so_far": rnd.calls_so_far, "stop_reason": stop, "final_rank": rank.get(cell.key),
            "settings": settings, "decided_at": now(),
        } for cell in cells]
        with connect(self.path) as con, transaction(con):
            append(con, "raw.adaptive_decisions", rows, "decision_id")


def _add(totals: Counters, c: Counters) -> None:
    for name in ("planned", "already_done", "pairs_done", "pair_errors", "judgments", "judge_errors",
                 "judge_retries", "complete", "elapsed"):
        setattr(totals, name, getattr(totals, name) + getattr(c, name))
    totals.error_samples = (totals.error_samples + c.error_samples)[:5]
