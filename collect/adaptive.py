"""Adaptive runs: which cells to keep measuring, decided on dbt's scores.

A cell (template x persona pair of one measurement) is measured in rounds of scenarios. After
each round dbt scores every cell (`template_pair_scores.score` and its jackknife `score_se`);
a cell whose upper bound (score + z*se) is below the k-th best lower bound (score - z*se) is
dropped, and the next round measures more scenarios for the survivors only. The rule compares
dbt's numbers; it computes no score.

So that a true top-k cell is dropped with probability at most alpha (0.05) over the whole run:
- z is a union bound over cells and decisions: each bound may fail with alpha / (2 * cells *
  rounds), so all hold together with probability >= 1 - alpha, and while they hold no true top-k
  cell can fall below the k-th best lower bound;
- the SE has a floor (`se_floor`): at n = 3-16 the jackknife is 0 whenever no single pair moves
  the score (0 of 3 passes has probability 0.125 at a true rate of 0.5), so a cell is never
  credited with less than the binomial SE of its pass rate, smoothed by one pass and one fail,
  times its other factors. tests/stats/test_racing.py checks the rule against planted truth. Calls are counted by the protocol (generations + judge
calls per pair, cache hits included), so a budget means the same live and in a replay.

The orchestration (clients, stores, builds) is collect/adaptive_run.py.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from statistics import NormalDist

from collect.plan import PlanItem
from warehouse.errors import UserError

STOP_TOP_K, STOP_COMPLETE, STOP_BUDGET = "top_k", "complete", "budget"


@dataclass(frozen=True)
class Settings:
    budget: int
    top_k: int = 3
    z: float | None = None            # None: the union bound's z for alpha (union_z)
    alpha: float = 0.05               # the chance of dropping any true top-k cell, over the run
    rounds: int | None = None         # split the scenarios into this many rounds ...
    round_size: int | None = None     # ... or measure this many scenarios a cell per round
    replay_of: str | None = None      # a stored measurement: answer every call from the cache

    def as_params(self) -> dict:
        return {"budget": self.budget, "top_k": self.top_k, "z": self.z, "alpha": self.alpha, "rounds": self.rounds,
                "round_size": self.round_size, "replay_of": self.replay_of}

    def check(self) -> None:
        for flag, value, low in (("--budget", self.budget, 1), ("--top-k", self.top_k, 1),
                                 ("--rounds", self.rounds, 1), ("--round-size", self.round_size, 1)):
            if value is not None and value < low:
                raise UserError(f"{flag}: must be >= {low}")
        if self.rounds is not None and self.round_size is not None:
            raise UserError("--rounds/--round-size: give one of them, not both")
        if self.z is not None and not (self.z >= 0 and math.isfinite(self.z)):
            raise UserError("--z: must be a finite number >= 0")
        if not 0 < self.alpha < 1:
            raise UserError("--alpha: must be between 0 and 1")

    def size(self, n_scenarios: int) -> int:
        """Scenarios per cell per round (default: four rounds)."""
        if self.round_size is not None:
            return self.round_size
        return max(1, math.ceil(n_scenarios / (self.rounds or 4)))

    def z_for(self, n_cells: int, n_rounds: int) -> float:
        """The bound width: --z if given, else the union bound's over these cells and rounds."""
        return self.z if self.z is not None else union_z(self.alpha, n_cells, n_rounds)


def union_z(alpha: float, n_cells: int, n_rounds: int) -> float:
    """z such that every cell's two bounds in every round hold together with probability
    >= 1 - alpha (Bonferroni over 2 * cells * rounds one-sided normal bounds)."""
    return NormalDist().inv_cdf(1 - alpha / (2 * max(1, n_cells) * max(1, n_rounds)))


def se_floor(n: int, strict_pass_rate: float, other_factors: float, echo_rate: float, refusal_rate: float) -> float:
    """The least SE a cell of n pairs is credited with: the binomial SE of its pass rate with one
    pass and one fail added, times its other factors (an echo or refusal rate is smoothed the
    same way where that raises its factor, so a factor is never 0 either). The jackknife misses
    exactly this part when every pair passes or none does."""
    smooth = lambda rate: (n * rate + 1) / (n + 2)  # noqa: E731
    p = smooth(strict_pass_rate)
    rest = other_factors * (1 - min(echo_rate, smooth(echo_rate))) * (1 - min(refusal_rate, smooth(refusal_rate)))
    return 100 * rest * math.sqrt(p * (1 - p) / n)


@dataclass(frozen=True)
class CellScore:
    key: CellKey
    cell_id: str | None
    n: int
    score: float | None
    score_se: float | None    # null with fewer than two successful pairs
    se_floor: float = 0.0     # see se_floor()

    @property
    def bounded(self) -> bool:
        return self.score is not None and self.score_se is not None

    @property
    def se(self) -> float:
        return max(self.score_se, self.se_floor)


def eliminate(cells: list[CellScore], k: int, z: float) -> set[CellKey]:
    """The cells whose upper bound is below the k-th best lower bound; cells without an SE
    (too few pairs) neither drop nor set the bar."""
    bounded = [c for c in cells if c.bounded]
    if len(bounded) <= k:
        return set()
    bar = sorted((c.score - z * c.se for c in bounded), reverse=True)[k - 1]
    return {c.key for c in bounded if c.score + z * c.se < bar}


def ranked(cells: list[CellScore]) -> list[CellScore]:
    """Best first by dbt's score (no score last); ties by template, then persona pair."""
    return sorted(cells, key=lambda c: (c.score is None, -(c.score or 0.0), c.key))


def calls_per_pair(item: PlanItem, n_judge_calls: int) -> int:
    """The protocol's calls for one pair: one generation per pole (one for the control arm)
    plus its judge calls."""
    return (1 if item.same_prompts else 2) + n_judge_calls


def cells_of(plan: list[PlanItem]) -> dict[CellKey, list[PlanItem]]:
    """Each cell's pairs in the order the rounds measure them: the seeded shuffle's order."""
    cells: dict[CellKey, list[PlanItem]] = {}
    for item in plan:
        cells.setdefault((item.template.text, item.persona_pair.id), []).append(item)
    return {key: sorted(items, key=lambda it: it.row_idx) for key, items in cells.items()}


def next_round(cells: dict[CellKey, list[PlanItem]], alive: list[CellKey], measured: dict[CellKey, int],
               size: int, spent: int, budget: int, n_judge_calls: int) -> list[PlanItem]:
    """The next `size` pairs of every surviving cell, taken scenario by scenario across cells
    so a budget that runs out mid-round leaves the cells even; never past the budget."""
    batch = []
    for offset in range(size):
        for key in alive:
            at = measured[key] + offset
            if at >= len(cells[key]):
                continue
            item = cells[key][at]
            cost = calls_per_pair(item, n_judge_calls)
            if spent + cost > budget:
                return batch
            spent += cost
            batch.append(item)
    return batch


# ---------------------------------------------------------------- reading dbt's marts

def read_scores(con, measurement_id: str) -> dict[CellKey, CellScore]:
    rows = con.execute(
        "select template_text, persona_pair_id, cell_id, n_success, score, score_se, strict_pass_rate, "
        "factor_axis * factor_off_axis * factor_style, persona_echo_rate, refusal_or_ai_break_rate "
        "from template_pair_scores where measurement_id = ?", [measurement_id]).fetchall()
    return {(t, p): CellScore((t, p), cid, n or 0, score, se,
                              se_floor(n, *rest) if n and None not in rest else 0.0)
            for t, p, cid, n, score, se, *rest in rows}


def resolve_measurement(con, given: str, generator: str) -> str:
    """A stored measurement by its full id, or by the base id it was collected under."""
    for mid in (given, f"{given}/{generator}"):
        if con.execute("select count(*) from measurements where measurement_id = ?", [mid]).fetchone()[0]:
            return mid
    raise UserError(f"--replay-of {given}: no such measurement in the marts "
                    f"(see `psw runs`; run `psw build` after collecting it)")


@dataclass
class FullRun:
    measurement_id: str
    calls: int           # the protocol's calls for its pairs (the unit the budget counts in)
    api_calls: int       # HTTP calls it paid for (identical requests are made once)
    top: list[CellScore]


def read_full_run(con, measurement_id: str, k: int, n_judge_calls: int) -> FullRun:
    rows = con.execute(
        "select template_text, persona_pair_id, cell_id, n_success, score, score_se, n_planned, is_control "
        "from template_pair_scores where measurement_id = ?", [measurement_id]).fetchall()
    cells = [CellScore((t, p), cid, n or 0, score, se) for t, p, cid, n, score, se, _, _ in rows]
    calls = sum(planned * ((1 if control else 2) + n_judge_calls) for *_, planned, control in rows)
    (api_calls,) = con.execute("select n_api_calls from measurements where measurement_id = ?",
                               [measurement_id]).fetchone()
    return FullRun(measurement_id, calls, api_calls, ranked(cells)[:k])


# ---------------------------------------------------------------- what a run did

@dataclass
class Round:
    number: int
    alive_before: int
    pairs: int
    calls_so_far: int
    dropped: list[CellKey]


@dataclass
class Result:
    measurement_id: str
    settings: Settings
    rounds: list[Round] = field(default_factory=list)
    calls: int = 0
    stop_reason: str | None = None
    top: list[CellScore] = field(default_factory=list)
    full: FullRun | None = None
    counters: object = None      # collect.run.Counters summed over the rounds
    stats: object = None         # collect.client.Stats of the rounds' calls

    @property
    def agrees_as_set(self) -> bool:
        return self.full is not None and {c.key for c in self.top} == {c.key for c in self.full.top}

    @property
    def agrees_in_order(self) -> bool:
        return self.full is not None and [c.key for c in self.top] == [c.key for c in self.full.top]


def cell_name(key: CellKey) -> str:
    template, persona_pair = key
    return f"{persona_pair} x {template!r}"


def round_line(rnd: Round, budget: int) -> str:
    dropped = f"; dropped {len(rnd.dropped)}: {', '.join(map(cell_name, rnd.dropped))}" if rnd.dropped else ""
    return (f"round {rnd.number}: {rnd.alive_before} cells alive, {rnd.pairs} pairs measured, "
            f"{rnd.calls_so_far} of {budget} calls so far{dropped}")


def describe(result: Result) -> list[str]:
    s = result.settings
    reason = {STOP_TOP_K: f"only {s.top_k} cells left", STOP_COMPLETE: "every survivor fully measured",
              STOP_BUDGET: "budget reached"}.get(result.stop_reason, result.stop_reason)
    lines = [f"adaptive {result.measurement_id}: stopped after {len(result.rounds)} round(s) "
             f"({reason}); {result.calls} calls of budget {s.budget}",
             f"top {s.top_k}:"]
    if result.stats is not None:
        st = result.stats
        lines.insert(1, f"  calls made: {st.calls} ({st.cache_hits} from cache), {st.requests} HTTP requests, "
                        f"{st.retries} retries")
    lines += [f"  {i}. {cell_name(c.key)}  score {c.score}  se {c.score_se}  n {c.n}"
              for i, c in enumerate(result.top, 1)]
    full = result.full
    if full is not None:
        saved = full.calls - result.calls
        pct = 100.0 * saved / full.calls if full.calls else 0.0
        lines += [f"replay of {full.measurement_id}: full run {full.calls} calls ({full.api_calls} paid "
                  f"HTTP calls), adaptive {result.calls}: saved {saved} ({pct:.1f}%)",
                  f"full run's top {s.top_k}:"]
        lines += [f"  {i}. {cell_name(c.key)}  score {c.score}" for i, c in enumerate(full.top, 1)]
        lines.append(f"top {s.top_k} agrees: as a set {'yes' if result.agrees_as_set else 'no'}, "
                     f"in order {'yes' if result.agrees_in_order else 'no'}")
    return lines
