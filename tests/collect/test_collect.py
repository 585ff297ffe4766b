"""`psw collect` against a real HTTP server on 127.0.0.1 (tests/collect/fakeserver.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from collect_helpers import (KEY_ENV, ROOT, SECRET, collect_args, dump_all_text, q, run_cli,
                      write_candidates)
from fakeserver import criterion_of, is_generation, is_judge
from warehouse.judge_schema import V3_CRITERIA

# one judge, both A/B orders: 4 axis calls, then one style and one confound call
CALLS_PER_JUDGE = 6


def summary_value(out: str, label: str) -> int:
    """`calls: 48 (0 from cache), 48 HTTP requests, 2 retries` -> the number before label."""
    import re
    m = re.search(r"(\d+) " + re.escape(label), out)
    assert m, f"{label!r} not in {out}"
    return int(m.group(1))


def test_collect_writes_everything_and_rerun_makes_no_request(tmp_path, fake, secret, capfd):
    files = write_candidates(tmp_path / "cand")
    db = tmp_path / "w.duckdb"
    assert run_cli(collect_args(db, fake.base_url, files)) == 0
    n_pairs = files["n"]
    assert fake.llm.requests == n_pairs * 2 + n_pairs * CALLS_PER_JUDGE

    pairs = q(db, "select pair_id, pos_label, pos_response, neg_response, error, pos_prompt, "
                  "neg_prompt, template_text, generator_model, prompt_set from raw.pairs")
    assert len(pairs) == n_pairs
    for pid, label, pos, neg, err, pos_prompt, neg_prompt, tpl, gen, prompt_set in pairs:
        assert err is None and pos and neg and label in ("A", "B")
        assert "{persona}" in tpl and "alpha" in pos_prompt and "omega" in neg_prompt
        assert gen == "gen/model" and prompt_set == "user_turn"
    assert {p[1] for p in pairs} == {"A", "B"}  # both orders occur
    rows = q(db, "select j.criterion, j.pos_label = p.pos_label, j.output is not null, j.error, "
                 "j.prompt_hash from raw.judgments j join raw.pairs p using (pair_id)")
    assert len(rows) == n_pairs * CALLS_PER_JUDGE
    assert {r[0] for r in rows} == set(V3_CRITERIA)
    assert all(r[1] and r[2] and r[3] is None and len(r[4]) == 16 for r in rows)
    # keys exactly as the v3 protocol (warehouse/judge_schema.py)
    (style,) = q(db, "select output from raw.judgments where criterion='style' limit 1")[0]
    assert set(json.loads(style)) >= {"verbosity_A", "incoherence_B", "persona_echo_A",
                                      "refusal_or_ai_break_B", "style_reason"}
    assert q(db, "select count(*) from raw.api_calls")[0][0] == fake.llm.requests
    (m,) = q(db, "select measurement_id, judge_models, seed, source_format, params::varchar "
                 "from raw.measurements")
    assert m[1] == ["judge/one"] and m[2] == 23 and m[3] == "collect"
    assert m[0].endswith("/gen/model")
    # the candidate files load through `psw ingest` first (one load each), then the run
    assert q(db, "select kind, n_records from raw.loads where kind = 'collect'") == [("collect", n_pairs)]
    assert sorted(k for (k,) in q(db, "select kind from raw.loads where kind <> 'collect'")) == [
        "pairs", "scenarios", "templates"]

    before = fake.llm.requests
    counts = q(db, "select (select count(*) from raw.pairs), (select count(*) from raw.judgments),"
                   " (select count(*) from raw.api_calls), (select count(*) from raw.measurements)")
    assert run_cli(collect_args(db, fake.base_url, files)) == 0
    assert fake.llm.requests == before, "a second identical run must make zero requests"
    assert q(db, "select (select count(*) from raw.pairs), (select count(*) from raw.judgments),"
                 " (select count(*) from raw.api_calls), (select count(*) from raw.measurements)"
             ) == counts

    # the key went out in the Authorization header, and nowhere else
    assert fake.llm.auth_headers == {f"Bearer {SECRET}"}
    assert SECRET not in json.dumps(fake.llm.bodies)
    assert SECRET not in dump_all_text(db)
    out, err = capfd.readouterr()
    assert SECRET not in out + err
    assert "calls: 0 (0 from cache), 0 HTTP requests" in out


def test_new_judge_reuses_generations(tmp_path, fake, secret, capfd):
    files = write_candidates(tmp_path / "cand")
    db = tmp_path / "w.duckdb"
    assert run_cli(collect_args(db, fake.base_url, files)) == 0
    before = fake.llm.requests
    assert run_cli(collect_args(db, fake.base_url, files, judges=("judge/one", "judge/two"))) == 0
    # only the new judge's axis calls: style and confound stay with the first judge
    assert fake.llm.requests - before == files["n"] * 4
    assert q(db, "select judge_model, count(*) from raw.judgments group by all order by 1") == [
        ("judge/one", files["n"] * CALLS_PER_JUDGE), ("judge/two", files["n"] * 4)]
    assert q(db, "select count(*) from raw.pairs")[0][0] == files["n"]


def test_transient_faults_are_retried_and_counted(tmp_path, fake, secret, capfd):
    files = write_candidates(tmp_path / "cand")
    db = tmp_path / "w.duckdb"
    fake.llm.add_fault("status", code=429, retry_after="1", match=is_generation, times=1)
    fake.llm.add_fault("status", code=500, match=is_judge("style"), times=2)
    fake.llm.add_fault("status", code=503, match=is_judge("axis"), times=1)
    fake.llm.add_fault("slow", delay=1.5, match=is_judge("confound"), times=1)
    fake.llm.add_fault("malformed_body", match=is_judge("confound"), times=1)
    t0 = time.monotonic()
    assert run_cli(collect_args(db, fake.base_url, files, "--timeout", "0.5")) == 0
    assert time.monotonic() - t0 >= 1.0, "Retry-After: 1 was not honoured"
    out, err = capfd.readouterr()
    assert summary_value(out, "retries") == 6
    assert summary_value(out, "calls failed") == 0
    assert fake.llm.faults_served == {"status": 4, "slow": 1, "malformed_body": 1}
    n = files["n"]
    assert fake.llm.requests == n * (2 + CALLS_PER_JUDGE) + 6
    assert q(db, "select count(*), count(error) from raw.pairs") == [(n, 0)]
    assert q(db, "select count(*), count(error) from raw.judgments") == [(n * CALLS_PER_JUDGE, 0)]
    (attempts,) = q(db, "select sum(attempts) - count(*) from raw.api_calls")[0]
    assert attempts == 6  # each answer records the attempts it took
    assert SECRET not in out + err


def test_exhausted_retries_become_error_rows(tmp_path, fake, secret, capfd):
    files = write_candidates(tmp_path / "cand")
    db = tmp_path / "w.duckdb"

    def first_pair_pos_generation(body):
        text = body["messages"][0]["content"]
        return is_generation(body) and "alpha0-kind" in text and "variant 0" in text \
            and "number 0" in text

    def one_confound(body):
        return criterion_of(body) == "confound" and "number 1" in body["messages"][0]["content"] \
            and "axis 1" in body["messages"][0]["content"] and "variant 1" not in str(body)

    fake.llm.add_fault("status", code=500, match=first_pair_pos_generation, times=100)
    fake.llm.add_fault("status", code=429, match=one_confound, times=100)
    assert run_cli(collect_args(db, fake.base_url, files, "--max-attempts", "3")) == 1
    out, _ = capfd.readouterr()
    pair_err = q(db, "select error, pos_response from raw.pairs where error is not null")
    assert len(pair_err) == 1
    assert pair_err[0][0].startswith("pos generation failed: HTTP 500")
    assert "gave up after 3 attempts" in pair_err[0][0]
    # no judgments for a pair without both generations
    assert q(db, "select count(*) from raw.judgments j join raw.pairs p using (pair_id) "
                 "where p.error is not null")[0][0] == 0
    judge_err = q(db, "select criterion, output, raw_text, error from raw.judgments "
                      "where error is not null")
    assert len(judge_err) >= 1
    for crit, output, raw, error in judge_err:
        assert crit == "confound" and output is None and raw is None
        assert error.startswith("HTTP 429") and "gave up after 3 attempts" in error
    # every planned pair has exactly one row; every judgable pair has every criterion
    assert q(db, "select count(*) from raw.pairs")[0][0] == files["n"]
    assert q(db, "select count(*) from raw.judgments")[0][0] == (files["n"] - 1) * CALLS_PER_JUDGE
    assert summary_value(out, "generation errors") == 1
    assert summary_value(out, "pairs failed") == 1 + len(judge_err)

    # a re-run does not call again for rows already final (error rows included) ...
    before = fake.llm.requests
    assert run_cli(collect_args(db, fake.base_url, files, "--max-attempts", "3")) == 1
    assert fake.llm.requests == before
    # ... unless asked to retry errors; the fault is gone now: the judge errors are asked again,
    # and the pair with the generation error is generated (its neg answer is in the cache) and judged
    fake.llm.rules.clear()
    assert run_cli(collect_args(db, fake.base_url, files, "--retry-errors")) == 0
    assert fake.llm.requests - before == len(judge_err) + 1 + CALLS_PER_JUDGE
    assert q(db, "select count(*) from raw.judgments where error is null")[0][0] == \
        files["n"] * CALLS_PER_JUDGE


def test_invalid_judge_output_retried_once_then_error_row(tmp_path, fake, secret, capfd):
    files = write_candidates(tmp_path / "cand", n_templates=1, n_pairs=2, n_scenarios=2)
    db = tmp_path / "w.duckdb"
    bad_style = '{"verbosity_A": 4, oops this is not json'
    oob = json.dumps({"target_reason": "x", "A_more_target_than_B": 9})

    def pair_of(pp, sc):  # generations echo their system prompt, so judges see the personas
        return lambda b: f"alpha{pp}-kind" in str(b) and f"number {sc}" in str(b)

    # style of pair (pp0, sc0): malformed once, then fine -> retried, success
    fake.llm.add_fault("content", content=bad_style,
                       match=lambda b: criterion_of(b) == "style" and pair_of(0, 0)(b), times=1)
    # positive axis of pair (pp0, sc1), both orders: out of range twice -> error rows with the raw text
    fake.llm.add_fault("content", content=oob, times=4, match=lambda b: criterion_of(b) == "axis"
                       and "helps people (axis 0)" in str(b) and pair_of(0, 1)(b))
    # pair (pp1, sc0): empty positive generation; pair (pp1, sc1): truncated negative
    fake.llm.add_fault("content", content="", match=lambda b: is_generation(b) and
                       "alpha1-kind" in str(b) and "number 0" in str(b), times=1)
    fake.llm.add_fault("finish_length", match=lambda b: is_generation(b) and
                       "omega1-cold" in str(b) and "number 1" in str(b), times=1)
    assert run_cli(collect_args(db, fake.base_url, files)) == 1
    out, err = capfd.readouterr()

    errs = dict(q(db, "select scenario_id || '/' || persona_pair_id, error from raw.pairs"))
    assert errs["sc0/pp0"] is None and errs["sc1/pp0"] is None
    assert errs["sc0/pp1"] == "pos generation empty"
    assert errs["sc1/pp1"] == "neg generation truncated (finish_reason=length)"

    rows = q(db, "select p.scenario_id, j.criterion, j.output is null, j.raw_text, j.error "
                 "from raw.judgments j join raw.pairs p using (pair_id) order by 1, 2")
    assert len(rows) == 2 * CALLS_PER_JUDGE  # two judgable pairs x every criterion, one row each
    failed = [r for r in rows if r[4] is not None]
    assert [r[:2] for r in failed] == [("sc1", "positive_axis_forward"), ("sc1", "positive_axis_reverse")]
    for sc, crit, out_null, raw, error in failed:
        assert out_null and raw == oob and "A_more_target_than_B=9 out of range 1.0-5.0" in error
    style = [r for r in rows if r[0] == "sc0" and r[1] == "style"][0]
    assert style[4] is None and not style[2]
    assert "re-asked after invalid output" in out
    assert summary_value(out, "re-asked after invalid output") == 3
    assert summary_value(out, "errors,") == 2  # judgments: 12 written, 2 errors


def test_key_in_error_bodies_is_redacted(tmp_path, fake, secret, capfd):
    """A server that echoes the Authorization header must not get the key into a row."""
    files = write_candidates(tmp_path / "cand", n_templates=1, n_pairs=1, n_scenarios=1)
    db = tmp_path / "w.duckdb"
    orig = fake.llm.handle

    def echo_auth(body, auth):
        status, hdrs, payload, delay = orig(body, auth)
        if is_generation(body):
            return 401, {}, json.dumps({"error": f"bad key {auth}"}).encode(), 0
        return status, hdrs, payload, delay

    fake.llm.handle = echo_auth
    fake.httpd.llm = fake.llm
    assert run_cli(collect_args(db, fake.base_url, files)) == 3   # nothing succeeded
    out, err = capfd.readouterr()
    (error,) = q(db, "select error from raw.pairs")[0]
    assert "HTTP 401 (not retried)" in error and "***" in error
    assert SECRET not in dump_all_text(db)
    assert SECRET not in out + err


def test_missing_key_and_bad_input_are_user_errors(tmp_path, monkeypatch, capfd):
    files = write_candidates(tmp_path / "cand")
    db = tmp_path / "w.duckdb"
    monkeypatch.delenv(KEY_ENV, raising=False)
    argv = collect_args(db, "https://api.example.invalid/v1", files)
    assert run_cli(argv) == 2
    assert f"environment variable {KEY_ENV} is not set" in capfd.readouterr().err
    files["pairs"].write_text('{"id": "a"\n')
    assert run_cli(collect_args(db, "http://127.0.0.1:9/v1", files)) == 2
    assert "pairs.jsonl:1: invalid JSON" in capfd.readouterr().err


def test_a_plan_that_would_hold_the_key_is_not_written(tmp_path, fake, secret, capfd):
    files = write_candidates(tmp_path / "cand")
    files["scenarios"].write_text(json.dumps({"id": "leak", "prompt": f"My key is {secret}. What now?"}) + "\n")
    plan_file = tmp_path / "plan.jsonl"
    argv = collect_args(tmp_path / "w.duckdb", fake.base_url, files, "--dry-run", "--plan-out", str(plan_file))
    assert run_cli(argv) == 2
    err = capfd.readouterr().err
    last = err.strip().splitlines()[-1]  # after the scratch warehouse's load lines and the server probe
    assert f"{plan_file} line 1: holds" in last and "no plan written" in last and "Traceback" not in err, last
    assert secret not in err and not plan_file.exists() and fake.llm.requests == 0


def test_dry_run_records_plan_and_calls_nothing(tmp_path, fake, secret):
    files = write_candidates(tmp_path / "cand")
    db = tmp_path / "w.duckdb"
    plan_file = tmp_path / "plan.jsonl"
    assert run_cli(collect_args(db, fake.base_url, files, "--dry-run", "--plan-out",
                                str(plan_file))) == 0
    # nothing called and nothing written: the candidate files were checked in a scratch warehouse
    assert fake.llm.requests == 0
    assert not db.exists()
    plan = [json.loads(line) for line in plan_file.read_text().splitlines()]
    assert len(plan) == files["n"]
    assert {p["pos_label"] for p in plan} == {"A", "B"}
    assert all(p["pos_messages"][0]["content"].startswith("You are a alpha") for p in plan)
    # the real run uses exactly the planned pairs and labels
    assert run_cli(collect_args(db, fake.base_url, files)) == 0
    assert sorted(q(db, "select pair_id, pos_label from raw.pairs")) == \
        sorted((p["pair_id"], p["pos_label"]) for p in plan)


def test_candidates_from_ingested_tables_and_runs_command(tmp_path, fake, secret, capfd):
    import duckdb
    from warehouse.schema import ensure_raw_schema
    files = write_candidates(tmp_path / "cand")
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    ensure_raw_schema(con)
    for no, line in enumerate(files["pairs"].read_text().splitlines(), 1):
        rec = json.loads(line)
        con.execute("insert into raw.persona_pairs (record_id, load_id, line_no, persona_pair_id, "
                    "record, loaded_at) values (?, 'l1', ?, ?, ?::json, now())",
                    [f"r{no}", no, rec["id"], line])
    for no, line in enumerate(files["templates"].read_text().splitlines(), 1):
        con.execute("insert into raw.templates (record_id, load_id, line_no, template_text, "
                    "loaded_at) values (?, 'l2', ?, ?, now())", [f"t{no}", no, line])
    for no, line in enumerate(files["scenarios"].read_text().splitlines(), 1):
        con.execute("insert into raw.scenarios (record_id, load_id, line_no, scenario_id, record, "
                    "loaded_at) values (?, 'l3', ?, ?, ?::json, now())",
                    [f"s{no}", no, json.loads(line)["id"], line])
    con.close()
    argv = [a for a in collect_args(db, fake.base_url, files)]
    for flag in ("--pairs", "--templates", "--scenarios"):
        i = argv.index(flag)
        del argv[i:i + 2]
    assert run_cli(argv) == 0
    assert q(db, "select count(*) from raw.pairs")[0][0] == files["n"]
    # same pair ids as a run from the files (pair_id depends on content, not on the source)
    assert run_cli(["--db", str(db), "build", "--select", "+measurements"]) == 0  # the mart `psw runs` reads
    capfd.readouterr()
    assert run_cli(["--db", str(db), "runs"]) == 0
    out = capfd.readouterr().out
    assert "gen/model" in out and "judge/one" in out and f" {files['n'] * CALLS_PER_JUDGE} " in out
    assert run_cli(["--db", str(db), "runs", "--json"]) == 0
    (row,) = [json.loads(line) for line in capfd.readouterr().out.splitlines()]
    assert row["n_pairs"] == files["n"] and row["n_judgments"] == files["n"] * CALLS_PER_JUDGE
    assert row["n_api_calls"] == files["n"] * (2 + CALLS_PER_JUDGE)
    assert row["prompt_tokens"] + row["completion_tokens"] > 0 and row["cost"] > 0


def test_registered_in_psw_cli(tmp_path, fake, secret, capfd):
    from psw.cli import main as psw_main
    files = write_candidates(tmp_path / "cand", 1, 1, 1)
    db = tmp_path / "w.duckdb"
    assert psw_main(collect_args(db, fake.base_url, files)) == 0
    assert psw_main(["--db", str(db), "build", "--select", "+measurements"]) == 0  # the mart `psw runs` reads
    capfd.readouterr()
    assert psw_main(["--db", str(db), "runs"]) == 0
    assert "collect" in capfd.readouterr().out


def test_hf_generator_dispatch(tmp_path, fake, secret, monkeypatch, capfd):
    import types
    files = write_candidates(tmp_path / "cand", 1, 1, 2)
    db = tmp_path / "w.duckdb"
    argv = collect_args(db, fake.base_url, files)
    argv[argv.index("gen/model")] = "hf:/models/tiny"
    try:
        import extract.local_gen  # noqa: F401
        have = True
    except ModuleNotFoundError:
        have = False
    if not have:
        monkeypatch.setitem(sys.modules, "extract.local_gen", None)
        assert run_cli(argv) == 2
        assert "extract.local_gen" in capfd.readouterr().err

    calls = []

    class FakeLocal:
        def __init__(self, model, device="auto", dtype="auto"):
            calls.append(("init", model, device, dtype))

        def generate_batch(self, msgs, max_new_tokens, temperature):
            calls.append(("batch", len(msgs), max_new_tokens, temperature))
            return [f"local reply to {m[0]['content']}" for m in msgs]

    mod = types.ModuleType("extract.local_gen")
    mod.LocalGenerator = FakeLocal
    monkeypatch.setitem(sys.modules, "extract.local_gen", mod)
    assert run_cli(argv) == 0
    assert calls[0] == ("init", "/models/tiny", "auto", "auto")
    assert calls[1] == ("batch", 4, 400, 0.0)
    assert run_cli(argv) == 0
    assert len(calls) == 2, "a resumed run with nothing to generate must not load the model"
    assert fake.llm.requests == 2 * CALLS_PER_JUDGE  # judges only
    rows = q(db, "select generator_model, pos_response, error from raw.pairs")
    assert all(g == "hf:/models/tiny" and r.startswith("local reply to You are a alpha")
               and e is None for g, r, e in rows)


# ------------------------------------------------------------------ kill and resume

def _spawn(argv, env):
    code = ("import sys; sys.path.insert(0, %r); from psw.cli import main; "
            "sys.exit(main(%r))" % (str(ROOT), argv))
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_without_duplicates(tmp_path, fake, secret, sig):
    files = write_candidates(tmp_path / "cand", n_templates=3, n_pairs=2, n_scenarios=4)
    db = tmp_path / "w.duckdb"
    n = files["n"]
    total = n * (2 + CALLS_PER_JUDGE)
    fake.llm.delay = 0.03
    argv = collect_args(db, fake.base_url, files, "--concurrency", "4")
    env = {**os.environ, KEY_ENV: SECRET}
    proc = _spawn(argv, env)
    deadline = time.monotonic() + 20
    while fake.llm.requests < total // 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=20)
    assert SECRET not in out + err
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "interrupted" in err, (proc.returncode, err)
    asked = fake.llm.requests            # every request the killed run made
    fake.llm.delay = 0
    landed = q(db, "select count(*) from raw.api_calls")[0][0]
    # SIGKILL leaves no chance to flush: what landed is whatever was written before it (maybe nothing)
    assert (0 <= landed if sig == signal.SIGKILL else 0 < landed) and landed <= asked
    if sig == signal.SIGINT:
        # Ctrl-C flushes what had landed: only the calls in flight (4 slots) are lost
        assert asked - landed <= 4, (asked, landed)

    assert run_cli(argv) == 0
    assert q(db, "select count(*), count(distinct pair_id), count(error) from raw.pairs") == \
        [(n, n, 0)]
    assert q(db, "select count(*), count(distinct (pair_id, judge_model, criterion)), "
                 "count(error) from raw.judgments") == [(n * CALLS_PER_JUDGE, n * CALLS_PER_JUDGE, 0)]
    # every distinct call answered once in the cache; nothing already stored was asked again
    assert q(db, "select count(*) from raw.api_calls")[0][0] == total
    assert fake.llm.requests - asked == total - landed
    before = fake.llm.requests
    assert run_cli(argv) == 0
    assert fake.llm.requests == before


def test_connection_errors_exhaust_into_error_rows(tmp_path, secret, capfd):
    import socket
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    files = write_candidates(tmp_path / "cand", 1, 1, 2)
    db = tmp_path / "w.duckdb"
    # nothing listening: every call fails, and the exit status says nothing succeeded
    assert run_cli(collect_args(db, f"http://127.0.0.1:{port}/v1", files,
                                "--max-attempts", "2")) == 3
    out, err = capfd.readouterr()
    rows = q(db, "select error from raw.pairs")
    assert len(rows) == 2
    assert all("connection error" in e and "gave up after 2 attempts" in e for (e,) in rows)
    assert summary_value(out, "retries") == 4 and summary_value(out, "calls failed") == 4
    assert SECRET not in out + err + dump_all_text(db)


def test_runs_on_a_warehouse_without_collect_tables(tmp_path, capfd):
    import duckdb
    from warehouse.schema import ensure_raw_schema
    db = tmp_path / "w.duckdb"
    assert run_cli(["--db", str(db), "runs"]) == 2
    con = duckdb.connect(str(db))
    ensure_raw_schema(con)
    con.execute("insert into raw.measurements (measurement_id, load_id, generator_model, "
                "judge_models, temperature, seed, source_format, params, recorded_at) values "
                "('m1', 'l1', 'g', ['j'], 0, 23, 'examples_v2', null, now())")
    con.close()
    assert run_cli(["--db", str(db), "runs"]) == 2  # not built yet: says to run psw build
    assert run_cli(["--db", str(db), "build", "--select", "+measurements"]) == 0  # the mart `psw runs` reads
    capfd.readouterr()
    assert run_cli(["--db", str(db), "runs"]) == 0
    out = capfd.readouterr().out
    assert "m1" in out and "examples_v2" in out


def test_hf_generator_with_the_real_local_generator(tmp_path, fake, secret):
    """`--generator hf:<path>` through extract.local_gen with a tiny random model."""
    from extract import testing

    model, tok = testing.tiny_model_and_tokenizer()
    model.save_pretrained(tmp_path / "tiny")
    tok.save_pretrained(tmp_path / "tiny")
    files = write_candidates(tmp_path / "cand", 1, 1, 2)
    db = tmp_path / "w.duckdb"
    argv = collect_args(db, fake.base_url, files, "--max-tokens", "8")
    argv[argv.index("gen/model")] = f"hf:{tmp_path / 'tiny'}"
    assert run_cli(argv) == 0
    rows = q(db, "select generator_model, pos_response, error, pos_response = neg_response from raw.pairs")
    assert len(rows) == 2 and all(g.startswith("hf:") for g, _, _, _ in rows)
    # the judges only; when a random model writes the same text for both poles, the swapped
    # axis questions are the forward ones again, answered from the cache
    assert fake.llm.requests == sum(CALLS_PER_JUDGE - 2 * same for *_, same in rows)
    assert q(db, "select count(*) from raw.judgments")[0][0] == 2 * CALLS_PER_JUDGE
    before = fake.llm.requests
    assert run_cli(argv) == 0                  # resumes: nothing to generate or judge
    assert fake.llm.requests == before
