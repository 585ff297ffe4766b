"""Adaptive runs (`psw collect --adaptive`): the elimination rule on plain numbers, and a replay
of a stored full run (6 cells x 8 scenarios, fake server on 127.0.0.1, real `psw build`) that
finds the full run's top 3 with fewer calls, makes no HTTP request, keeps to its budget and
refuses a cache miss in one line."""

from __future__ import annotations

import json
import re

import pytest

from collect.adaptive import CellScore, Settings, calls_per_pair, eliminate, ranked
from collect_helpers import collect_args, q, run_cli, write_candidates
from tests.conftest import copy_warehouse
from fakeserver import OFF_AXIS, STYLE_DIMS, FakeLLM, FakeServer, criterion_of, is_generation

# (template, persona pair) -> how strongly the judges see pos beat neg on the positive target;
# three cells are clearly better (and clearly ordered), the other three clearly worse
GOOD = {(0, 0): 4.9, (1, 1): 4.6, (2, 0): 4.3}
WEAK = 3.5
_TAG = re.compile(r"\(ref (pos|neg) t(\d) p(\d) s(\d)\)")
N_SCENARIOS, CALLS_PER_PAIR = 8, 8     # one judge, both orders: 2 generations + 4 axis + style + confound


def _pos_rating(t: int, p: int, s: int) -> float:
    """A little per-scenario noise, so every cell has a nonzero jackknife SE."""
    return round(GOOD.get((t, p), WEAK) + 0.1 * ((s + t) % 3 - 1), 1)


def responder(body):
    text = body["messages"][0]["content"]
    if is_generation(body):
        m = re.match(r"You are a (alpha|omega)(\d)-\w+ person, variant (\d)\.", text)
        s = int(re.search(r"number (\d)", text).group(1))
        pole = "pos" if m.group(1) == "alpha" else "neg"
        return f"(ref {pole} t{m.group(3)} p{m.group(2)} s{s}) My answer to situation {s}."
    pole_a, t, p, s = _TAG.search(text).groups()      # the first response shown is Response A
    a_is_pos, t, p, s = pole_a == "pos", int(t), int(p), int(s)
    crit = criterion_of(body)
    if crit == "axis":
        positive = "helps people" in text.split("Target behavior:")[1].split("Response A:")[0]
        pos_beats_neg = _pos_rating(t, p, s) if positive else 1.5
        obj = {"target_reason": "fake", "A_more_target_than_B":
               round(pos_beats_neg if a_is_pos else 6.0 - pos_beats_neg, 1)}
    elif crit == "style":
        obj = {"style_reason": "fake", **{f"{d}_{side}": 4.0 for d in STYLE_DIMS for side in "AB"},
               "persona_echo_A": False, "persona_echo_B": False,
               "refusal_or_ai_break_A": False, "refusal_or_ai_break_B": False}
    else:
        obj = {"confound_reason": "fake", **{f"{c}_likert": 1.5 for c in OFF_AXIS},
               "off_axis_problem_likert": 1.5, "likely_spurious_axis": "none", "usable_for_training": True}
    return json.dumps(obj)


@pytest.fixture(scope="module")
def full_run_once(tmp_path_factory):
    """The full run: 3 templates x 2 persona pairs x 8 scenarios, collected and built once."""
    tmp = tmp_path_factory.mktemp("adaptive")
    server = FakeServer(FakeLLM(responder)).start()
    files = write_candidates(tmp / "cand", n_templates=3, n_pairs=2, n_scenarios=N_SCENARIOS)
    db = tmp / "w.duckdb"
    try:
        assert run_cli(collect_args(db, server.base_url, files, "--measurement", "full")) == 0
        assert run_cli(["--db", str(db), "build"]) == 0
        yield db, server, files
    finally:
        server.stop()


@pytest.fixture
def full_run(full_run_once, tmp_path):
    """The full run's warehouse, this test's own copy: each test adds its measurements to it alone."""
    db, server, files = full_run_once
    return copy_warehouse(db, tmp_path / "w.duckdb"), server, files


def replay(db, server, files, *extra):
    return run_cli(collect_args(db, server.base_url, files, "--replay-of", "full", *extra))


def test_replay_finds_the_full_runs_top_3_with_fewer_calls_and_no_request(full_run, capsys):
    db, server, files = full_run
    capsys.readouterr()
    before = server.llm.requests
    # z 0.5, not the default: with 3 of 8 scenarios a cell, every pair passing, the sound default
    # (union-bound z, floored SE) keeps all six cells, as it should; this test is about the
    # mechanics, the rule's guarantee is tests/stats/test_racing.py's
    assert replay(db, server, files, "--budget", "400", "--top-k", "3", "--round-size", "3", "--z", "0.5",
                  "--measurement", "adaptive") == 0
    out = capsys.readouterr().out
    assert server.llm.requests == before                     # every call from the cache
    full_calls = 6 * N_SCENARIOS * CALLS_PER_PAIR
    assert f"full run {full_calls} calls" in out
    used = int(re.search(r"adaptive (\d+): saved (\d+) \(([\d.]+)%\)", out).group(1))
    assert used < full_calls
    assert "top 3 agrees: as a set yes, in order yes" in out
    (n_pairs,), = q(db, "select count(*) from raw.pairs where measurement_id = 'adaptive/gen/model'")
    assert n_pairs * CALLS_PER_PAIR == used
    assert f"calls made: {used} ({used} from cache), 0 HTTP requests" in out
    # a round is one line: its build prints nothing of dbt's, nor a summary of its own
    rounds = [line for line in out.splitlines() if line.startswith("round ")]
    assert rounds and "tests passed" not in out and "raw tables changed" not in out and "START" not in out
    top = q(db, "select template_text, persona_pair_id from template_pair_scores "
                "where measurement_id = 'full/gen/model' order by score desc limit 3")
    assert [(int(t[-2]), int(p[-1])) for t, p in top] == list(GOOD)
    print(out)   # the figures, for the report (pytest -s)

    assert run_cli(["--db", str(db), "build"]) == 0       # the last round's decisions reach the mart
    rows = q(db, "select round_number, decision, stop_reason, final_rank, calls_so_far, budget, replay_of, "
                 "top_k, z, rounds_setting, round_size_setting "
                 "from adaptive_rounds where measurement_id = 'adaptive/gen/model' order by round_number, final_rank")
    assert {r[1] for r in rows if r[0] == 1} >= {"dropped"}
    last = max(r[0] for r in rows)
    assert sorted(r[3] for r in rows if r[0] == last and r[3] is not None) == [1, 2, 3]
    assert all(r[4] <= r[5] == 400 and r[6] == "full" for r in rows)
    assert {tuple(r[7:]) for r in rows} == {(3, 0.5, None, 3)}   # the flags the run was given, as they were
    assert {r[2] for r in rows if r[0] == last} == {"top_k"}


def test_the_budget_is_never_exceeded(full_run, capsys):
    db, server, files = full_run
    before = server.llm.requests
    # nothing can be dropped at z=1000: rounds of 2 scenarios a cell (12 pairs, 96 calls) until
    # the next pair would pass the budget: 96, then 11 pairs (88 calls) of the second round
    assert replay(db, server, files, "--budget", "190", "--round-size", "2", "--z", "1000",
                  "--measurement", "tight") == 0
    assert server.llm.requests == before
    out = capsys.readouterr().out
    assert "budget reached" in out and "184 calls of budget 190" in out
    assert [int(n) for n in re.findall(r"(\d+) of 190 calls so far", out)] == [96, 184]
    per_cell = q(db, "select count(*) from raw.pairs where measurement_id = 'tight/gen/model' "
                     "group by template_text, persona_pair_id order by 1")
    assert [n for n, in per_cell] == [3, 4, 4, 4, 4, 4]     # the round stopped mid-way, cells even


def test_later_rounds_measure_the_survivors_only(full_run, capsys):
    db, server, files = full_run
    # at z=0.5 (bounds with the SE floor: +-0.5 x 10-17 points at n = 3) the three weak cells drop
    # after round 1 but the third good one is not yet clear of the top 2: the survivors get
    # round 2, the dropped cells keep their 3 pairs
    assert replay(db, server, files, "--budget", "216", "--top-k", "2", "--round-size", "3", "--z", "0.5",
                  "--measurement", "survivors") == 0
    out = capsys.readouterr().out
    assert re.search(r"round 1: 6 cells alive, 18 pairs measured, 144 of 216 calls so far; dropped 3", out)
    assert "round 2: 3 cells alive, 9 pairs measured, 216 of 216 calls so far" in out
    assert "top 2 agrees: as a set yes, in order yes" in out
    per_cell = q(db, "select count(*) from raw.pairs where measurement_id = 'survivors/gen/model' "
                     "group by template_text, persona_pair_id order by 1")
    weak = [n for n, in per_cell[:3]]
    assert weak == [3, 3, 3] and [n for n, in per_cell[3:]] == [6, 6, 6]


def test_a_live_adaptive_run_pays_only_for_the_pairs_it_measures(full_run, capsys):
    db, server, files = full_run
    before = server.llm.requests
    # another max_tokens: new generation requests; the judges then see the same texts (cache hits)
    assert run_cli(collect_args(db, server.base_url, files, "--max-tokens", "399", "--adaptive", "--budget", "400",
                                "--round-size", "3", "--z", "0.5", "--measurement", "live")) == 0
    out = capsys.readouterr().out
    assert "stopped after 1 round(s) (only 3 cells left); 144 calls of budget 400" in out
    assert server.llm.requests - before == 18 * 2         # 18 pairs' generations, nothing more
    assert "replay of" not in out
    (params,), = q(db, "select params from raw.measurements where measurement_id = 'live/gen/model'")
    assert json.loads(params)["adaptive"] == {"budget": 400, "top_k": 3, "z": 0.5, "alpha": 0.05, "rounds": None,
                                              "round_size": 3, "replay_of": None}


def test_a_cache_miss_in_a_replay_is_one_line_and_writes_nothing(full_run, capsys):
    db, server, files = full_run
    before = server.llm.requests
    code = replay(db, server, files, "--budget", "400", "--judge-temperature", "0.5", "--measurement", "miss")
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and server.llm.requests == before
    assert len(errors) == 1 and "cache miss: judge/one" in errors[0] and "--replay-of full" in errors[0]
    assert q(db, "select count(*) from raw.pairs where measurement_id like 'miss/%'") == [(0,)]
    assert q(db, "select count(*) from raw.measurements where measurement_id like 'miss/%'") == [(0,)]


def test_adaptive_flags_are_checked_before_anything_runs(full_run, capsys):
    db, server, files = full_run
    assert replay(db, server, files) == 2
    assert "--budget: required" in capsys.readouterr().err
    assert replay(db, server, files, "--budget", "100", "--rounds", "2", "--round-size", "2") == 2
    assert replay(db, server, files, "--budget", "100", "--measurement", "full") == 2
    assert "new measurement id" in capsys.readouterr().err


# ---------------------------------------------------------------- the rule on plain numbers

def cell(name, score, se, n=4):
    return CellScore((name, "pp"), None, n, score, se)


def test_a_cell_is_dropped_when_its_upper_bound_is_below_the_kth_best_lower_bound():
    cells = [cell("a", 80, 2), cell("b", 70, 2), cell("c", 60, 2), cell("d", 55, 2), cell("e", 40, 5)]
    # k-th (3rd) best lower bound: 60 - 2*2 = 56; d: 55 + 4 = 59 stays, e: 40 + 10 = 50 goes
    assert eliminate(cells, 3, 2.0) == {("e", "pp")}
    assert eliminate(cells, 3, 0.0) == {("d", "pp"), ("e", "pp")}
    assert eliminate(cells, 3, 10.0) == set()


def test_cells_without_an_se_stay_in_and_set_no_bar():
    cells = [cell("a", 80, 1), cell("b", 70, 1), cell("c", 90, None, n=1), cell("d", 10, 1), cell("e", None, None, 0)]
    # only a, b, d have bounds: with k=3 nothing can drop; with k=2 the bar is b's 68
    assert eliminate(cells, 3, 2.0) == set()
    assert eliminate(cells, 2, 2.0) == {("d", "pp")}


def test_ranking_and_calls_per_pair():
    cells = [cell("b", 70, 1), cell("a", 70, 1), cell("c", None, None), cell("d", 90, 1)]
    assert [c.key[0] for c in ranked(cells)] == ["d", "a", "b", "c"]

    class Item:
        def __init__(self, same):
            self.same_prompts = same
    assert calls_per_pair(Item(False), 6) == 8 and calls_per_pair(Item(True), 6) == 7


def test_the_default_bound_is_the_union_bound_and_the_floor_widens_a_zero_se():
    assert Settings(budget=10).z_for(192, 4) == pytest.approx(3.99, abs=0.01)
    assert Settings(budget=10, z=2.0).z_for(192, 4) == 2.0
    # three cells at SE 0 (every pair agrees): the floor keeps the 0/3 cell in against 60 +- floor
    cells = [CellScore((name, "pp"), None, 3, score, 0.0, floor) for name, score, floor in
             (("a", 80, 8.0), ("b", 70, 9.0), ("c", 60, 10.0), ("d", 0, 23.1))]
    assert eliminate(cells, 3, 3.0) == set()
    assert eliminate([CellScore(c.key, None, 3, c.score, 0.0) for c in cells], 3, 3.0) == {("d", "pp")}


def test_settings_are_checked():
    from warehouse.errors import UserError
    with pytest.raises(UserError, match="--top-k"):
        Settings(budget=10, top_k=0).check()
    with pytest.raises(UserError, match="--z"):
        Settings(budget=10, z=-1).check()
    with pytest.raises(UserError, match="--alpha"):
        Settings(budget=10, alpha=1.5).check()
    assert Settings(budget=10).size(8) == 2 and Settings(budget=10, rounds=3).size(8) == 3
