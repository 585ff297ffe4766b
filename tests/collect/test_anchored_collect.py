"""`psw collect --protocol anchored` against a real loopback server: the no-persona baseline
once per scenario, each pole judged against it in both orders, bounded-thinking judges
(tests/collect/fake_anchored.py says what the fake judge answers), the recorded objects and
upstream's artifact compared with hand computations, a judge that never commits, resume."""

from __future__ import annotations

import json

import pytest

from collect_helpers import collect_args, q, run_cli, write_candidates
from fake_anchored import REASONING, BoundedJudge
from fakeserver import FakeLLM, FakeServer, is_generation, persona_line

ANCHORED = ("--protocol", "anchored")
BOUNDED = ("--axis-judge-method", "bounded_thinking", "--axis-judge-n", "2", "--axis-judge-budget", "300")
CRITERIA = ["neg_base_forward", "neg_base_reverse", "pos_base_forward", "pos_base_reverse"]


@pytest.fixture(scope="module")
def bounded_run(tmp_path_factory):
    """2 templates x 2 persona pairs x 2 scenarios, one bounded-thinking judge, run twice."""
    import os
    from collect_helpers import KEY_ENV, SECRET
    os.environ[KEY_ENV] = SECRET
    d = tmp_path_factory.mktemp("anchored")
    files = write_candidates(d / "cand")
    judge = BoundedJudge()
    server = FakeServer(FakeLLM(judge)).start()
    art = d / "art.json"
    argv = collect_args(d / "w.duckdb", server.base_url, files, *ANCHORED, *BOUNDED,
                        "--exclude-confound-dims", "honesty_truthfulness", "--exclude-confound-dims", "sycophancy",
                        "--min-side-threshold", "0.25", "--artifact-out", str(art))
    try:
        first = run_cli(argv)
        requests_first = server.llm.requests
        second = run_cli(argv)
        yield {"db": d / "w.duckdb", "art": json.loads(art.read_text()), "judge": judge, "llm": server.llm,
               "codes": (first, second), "requests": (requests_first, server.llm.requests)}
    finally:
        server.stop()
        os.environ.pop(KEY_ENV, None)


def test_baseline_once_per_scenario_and_every_call_counted(bounded_run):
    llm = bounded_run["llm"]
    assert bounded_run["codes"] == (0, 0)
    generations = [b for b in llm.bodies if is_generation(b)]
    assert sum(persona_line(b) == "" for b in generations) == 2            # one baseline per scenario
    assert len(generations) == 8 * 2 + 2
    # per pair: style + confound, pos_base_forward 2 samples, pos_base_reverse 2 x (phase 1 + forced),
    # neg_base_forward 2 (pp0) or 2 x 2 (pp1 never commits, so always forced), neg_base_reverse 2
    assert bounded_run["requests"] == (18 + 4 * 12 + 4 * 14, 18 + 4 * 12 + 4 * 14)   # the re-run: no request


def test_bounded_requests_follow_upstream(bounded_run):
    phase1 = [b for b in bounded_run["llm"].bodies if "SCORE: <int" in b["messages"][0]["content"]
              and len(b["messages"]) == 1]
    assert {(b["max_tokens"], b["temperature"], b["top_p"], b["top_k"], b["presence_penalty"]) for b in phase1} \
        == {(300, 1.0, 0.95, 20, 1.5)}
    forced = bounded_run["judge"].forced_bodies
    assert forced and {b["max_tokens"] for b in forced} == {256}
    assert all(b["reasoning_effort"] == "none" and b["messages"][2]["content"].startswith("You are out of thinking")
               for b in forced)
    # the forced turn continues from the reasoning the server returned, else "(thinking truncated)"
    assert {b["messages"][1]["content"] for b in forced} == {REASONING, "(thinking truncated)"}


def test_raw_judgments_hold_upstreams_objects(bounded_run):
    db = bounded_run["db"]
    rows = q(db, "select criterion, count(*) from raw.judgments group by 1 order by 1")
    assert rows == [("confound", 8), *[(c, 8) for c in CRITERIA], ("style", 8)]
    (params,) = q(db, "select params from raw.measurements")[0]
    params = json.loads(params)
    assert (params["judge_protocol"], params["axis_judge_method"], params["axis_judge_n"],
            params["axis_judge_budget"], params["exclude_confound_dims"], params["min_side_threshold"]) == \
        ("anchored", "bounded_thinking", 2, 300, ["honesty_truthfulness", "sycophancy"], 0.25)
    extra = [json.loads(e) for (e,) in q(db, "select extra from raw.pairs")]
    assert {e["base_response"].startswith("[] ") for e in extra} == {True}
    assert {(e["protocol"], e["axis_judge_method"], e["control_pair"]) for e in extra} == \
        {("anchored", "bounded_thinking", False)}


def test_artifact_fields_equal_hand_computations(bounded_run):
    art = bounded_run["art"]
    assert (art["exclude_confound_dims"], art["axis_delta_threshold"], art["min_side_threshold"],
            art["off_axis_threshold"], art["max_word_delta_frac"], art["n_results"], art["n_errors"]) == \
        (["honesty_truthfulness", "sycophancy"], 3.0, 0.25, 2.0, 0.0, 8, 0)
    for result in art["results"]:
        assert result["base_generation_prompt"].startswith("Scenario:\n") and result["base_response"].startswith("[] ")
        assert result["control_pair"] is False and result["axis_judge_method"] == "bounded_thinking"
        (entry,) = result["axis_judgments"]
        fwd, rev = entry["pos_base_forward_judgment"], entry["pos_base_reverse_judgment"]
        # samples 3 and 2: the rounded mean round(2.5) = 2 (Python rounds half to even) -> 3 + 0.4*2
        assert sorted(s["score"] for s in fwd["samples"]) == [2, 3]
        assert (fwd["A_more_target_than_B"], fwd["found_rate"], fwd["forced_rate"], fwd["n_samples"],
                fwd["budget"]) == (3.8, 1.0, 0.0, 2, 300)
        assert (rev["A_more_target_than_B"], rev["forced_rate"], rev["samples"]) == \
            (2.2, 1.0, [{"score": -2, "found": True, "forced": True}] * 2)
        assert entry["delta_pos_vs_base"] == pytest.approx(((3.8 - 3) - (2.2 - 3)) / 2)      # 0.8
        nfwd = entry["neg_base_forward_judgment"]
        assert entry["neg_base_reverse_judgment"]["A_more_target_than_B"] == 1.4            # SCORE -4
        if result["axis"]["id"] == "pp0":
            assert nfwd["A_more_target_than_B"] == 4.6 and result["judge_did_not_commit"] is False
            assert entry["delta_base_vs_neg"] == pytest.approx((1.6 + 1.6) / 2)
            assert entry["axis_delta"] == pytest.approx(2 * (0.8 + 1.6))
        else:   # pp1: the forward neg-vs-base call never commits: a tie, not laundered, flagged
            assert (nfwd["A_more_target_than_B"], nfwd["found"], nfwd["found_rate"], nfwd["forced_rate"]) == \
                (3.0, False, 0.0, 0.0)
            assert nfwd["samples"] == [{"score": 0, "found": False, "forced": True}] * 2
            assert result["judge_did_not_commit"] is True
            assert entry["delta_base_vs_neg"] == pytest.approx((0 + 1.6) / 2)
            assert entry["axis_delta"] == pytest.approx(2 * (0.8 + 0.8))


def test_anchored_run_resumes_and_retries_only_what_failed(tmp_path, fake, secret):
    files = write_candidates(tmp_path / "cand", 1, 1, 2)
    db = tmp_path / "w.duckdb"
    argv = collect_args(db, fake.base_url, files, *ANCHORED, "--max-attempts", "1")

    def reverse_pos_call(body):
        content = body["messages"][0]["content"]
        return "Response A:\n<<<\n[] " in content and "helps people" in content
    fake.llm.add_fault("status", code=500, match=reverse_pos_call, times=1)
    assert run_cli(argv) == 1                                  # one judge call got no reply
    assert q(db, "select count(*) from raw.judgments where error is not null") == [(1,)]
    before = fake.llm.requests
    assert before == 2 * 2 + 2 + 2 * 6                # 2 pairs: their poles, a baseline per scenario, 6 judge calls each
    assert run_cli(argv) == 1                                   # a plain re-run skips the error row
    assert fake.llm.requests == before
    assert run_cli([*argv, "--retry-errors"]) == 0
    assert fake.llm.requests == before + 1                     # only that call, nothing regenerated
    assert q(db, "select count(distinct pair_id) from raw.pairs") == [(2,)]
    assert q(db, "select count(*) from raw.judgments where error is null") == [(12,)]


@pytest.mark.parametrize("flags, message", [
    (("--axis-judge-method", "bounded_thinking"), "--axis-judge-method: only with --protocol anchored"),
    ((*ANCHORED, "--exclude-confound-dims", "honesty,sycophancy"), "--exclude-confound-dims: unknown off-axis"),
    ((*ANCHORED, "--judge-orders", "1"), "--judge-orders: the anchored protocol asks both orders"),
    ((*ANCHORED, *BOUNDED[:2], "--axis-judge-n", "0"), "--axis-judge-n 0: must be at least 1"),
])
def test_bad_anchored_flags_are_one_line(tmp_path, fake, secret, capfd, flags, message):
    files = write_candidates(tmp_path / "cand", 1, 1, 1)
    assert run_cli(collect_args(tmp_path / "w.duckdb", fake.base_url, files, *flags)) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert message in err[-1] and "Traceback" not in "\n".join(err)
    assert fake.llm.requests == 0


def test_dry_run_counts_the_baseline_and_the_samples(tmp_path, fake, secret, capfd):
    files = write_candidates(tmp_path / "cand", 1, 1, 2)
    assert run_cli(collect_args(tmp_path / "w.duckdb", fake.base_url, files, *ANCHORED, *BOUNDED, "--dry-run",
                                "--plan-out", str(tmp_path / "plan.jsonl"))) == 0
    err = capfd.readouterr().err
    # 2 pairs: 4 poles + 2 baselines; per pair 4 axis calls x 2 samples (at least) + style + confound
    assert "gen/model: 6 calls" in err and "judge/one: 20 calls" in err
    assert fake.llm.requests == 0 and not (tmp_path / "w.duckdb").exists()


def test_score_lines_and_verdicts_by_hand():
    from collect.bounded import parse_score, score_to_a_more_target_than_b, verdict
    assert parse_score("thinking...\n  score: +7 because") == (5, True)        # clamped, any case
    assert parse_score("The SCORE: 3 would be") == (0, False)                  # not a line of its own
    assert parse_score("SCORE: 0") == (0, True) and parse_score(None) == (0, False)
    assert [score_to_a_more_target_than_b(s) for s in (-5, -1, 0, 3, 5)] == [1.0, 2.6, 3.0, 4.2, 5.0]
    mixed = verdict([{"score": 4, "found": True, "forced": True}, {"score": 0, "found": False, "forced": True},
                     {"score": 1, "found": True, "forced": False}], budget=64)
    # committed 4 and 1: round(2.5) = 2 -> 3.8; 2 of 3 committed, 1 of those 2 forced
    assert (mixed["A_more_target_than_B"], mixed["found"], mixed["found_rate"], mixed["forced_rate"]) == \
        (3.8, True, 0.6667, 0.5)
    none = verdict([{"score": 0, "found": False, "forced": True}], budget=64)
    assert (none["A_more_target_than_B"], none["found"], none["found_rate"]) == (3.0, False, 0.0)
