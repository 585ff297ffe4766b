"""`psw collect` against loopback servers that behave like llama.cpp and vLLM (issue 30):
retriable generation errors, seeds and schemas sent, the capability probe stored, prompts that
cannot fit refused before any call, no request timing out while it queues."""

from __future__ import annotations

import json

from collect_helpers import collect_args, q, run_cli, write_candidates
from fakeserver import FakeLLM, FakeServer, is_generation


def first_scenario_generation(body):
    return is_generation(body) and "number 0" in body["messages"][0]["content"]


def second_scenario_generation(body):
    return is_generation(body) and "number 1" in body["messages"][0]["content"]


def test_generation_errors_come_back_with_retry_errors(tmp_path, fake, secret, capfd):
    """A server still loading (503) and a request past the timeout: both pairs are generation
    errors; a plain re-run leaves them; --retry-errors generates and judges them."""
    files = write_candidates(tmp_path / "cand", n_templates=1, n_pairs=1, n_scenarios=3)
    db = tmp_path / "w.duckdb"
    fake.llm.add_fault("status", code=503, match=first_scenario_generation, times=100)
    fake.llm.add_fault("slow", delay=1.0, match=second_scenario_generation, times=100)
    argv = collect_args(db, fake.base_url, files, "--max-attempts", "2", "--timeout", "0.4")
    assert run_cli(argv) == 1
    out, _ = capfd.readouterr()
    errors = sorted(e for (e,) in q(db, "select error from raw.pairs where error is not null"))
    assert len(errors) == 2
    assert "HTTP 503" in errors[0] and "timeout" in errors[1]
    assert "--retry-errors asks again for every generation error" in out

    before = fake.llm.requests
    assert run_cli(argv) == 1                      # a plain re-run: nothing asked again
    assert fake.llm.requests == before
    fake.llm.rules.clear()                         # the server is up now
    assert run_cli(argv + ["--retry-errors"]) == 0
    assert fake.llm.requests - before == 2 * (2 + 6)   # both pairs generated and judged
    rows = q(db, "select pair_id, count(*), count(error), count(*) filter (where error is null) "
                 "from raw.pairs group by 1 order by 2")
    assert [r[1:] for r in rows] == [(1, 0, 1), (2, 1, 1), (2, 1, 1)]   # error rows kept beside
    assert q(db, "select count(*) from raw.judgments where error is null")[0][0] == 3 * 6

    # staging keeps one row per pair, the successful one: the examples mart holds 3 pairs, none failed
    assert run_cli(["--db", str(db), "build"]) == 0
    assert q(db, "select count(*), count(distinct pair_id), count(error) from examples") == [(3, 3, 0)]


LLAMA_MODEL = "local/small-q4.gguf"


def local_args(db, server, files, *extra, model=LLAMA_MODEL):
    argv = collect_args(db, server.base_url, files, *extra, judges=(model,))
    argv[argv.index("gen/model")] = model
    return argv


def served(llm):
    server = FakeServer(llm).start()
    return server


def test_llama_cpp_probe_is_stored_and_seeds_and_schemas_reach_it(tmp_path, secret, capfd):
    from warehouse.judge_schema import json_schema
    llm = FakeLLM.llama_cpp(n_ctx=32768)
    server = served(llm)
    try:
        files = write_candidates(tmp_path / "cand", n_templates=1, n_pairs=1, n_scenarios=2)
        db = tmp_path / "w.duckdb"
        assert run_cli(local_args(db, server, files)) == 0
        _, err = capfd.readouterr()
        assert "llama.cpp, context 32,768 tokens, 1 slot" in err
        probes = llm.probes
        assert probes > 0 and llm.requests == 2 * 8
        generations = [b for b in llm.bodies if is_generation(b)]
        judges = [b for b in llm.bodies if not is_generation(b)]
        seeds = [b["seed"] for b in generations]
        assert all(isinstance(s, int) for s in seeds) and len(set(seeds)) == len(seeds)
        for body in judges:      # llama.cpp's schema field; its 500 on json_schema avoided
            fmt = body["response_format"]
            assert fmt["type"] == "json_object" and "seed" in body
            kind = "style" if "persona_echo_A" in fmt["schema"]["properties"] else \
                "confound" if "off_axis_problem_likert" in fmt["schema"]["properties"] else "positive_axis_forward"
            assert fmt["schema"] == json_schema(kind, "v3")
        # the probe's findings are stored with the measurement, the seeds with each pair
        (server_found,) = q(db, "select params->'server' from raw.measurements")[0]
        found = json.loads(server_found)
        assert found["server"] == "llama.cpp" and found["context_length"] == 32768 and found["slots"] == 1
        model = found["models"][LLAMA_MODEL]
        assert model["seed"] is True and model["judge_output"] == ["json_object_schema", "json_object"]
        stored = {s for (x,) in q(db, "select extra from raw.pairs")
                  for s in json.loads(x)["generation_seeds"].values()}
        assert stored == set(seeds)
        # a re-run probes nothing (cached per server and model) and asks nothing
        assert run_cli(local_args(db, server, files)) == 0
        assert (llm.probes, llm.requests) == (probes, 2 * 8)
        assert q(db, "select count(*) from raw.measurements")[0][0] == 1
    finally:
        server.stop()


def test_an_over_long_judge_prompt_is_refused_before_any_call(tmp_path, secret, capfd):
    llm = FakeLLM.llama_cpp(n_ctx=2048)      # llama.cpp's default context
    server = served(llm)
    try:
        files = write_candidates(tmp_path / "cand", n_templates=1, n_pairs=1, n_scenarios=1)
        db = tmp_path / "w.duckdb"
        assert run_cli(local_args(db, server, files)) == 2
        out, err = capfd.readouterr()
        line = err.strip().splitlines()[-1]
        assert "judge call positive_axis_forward (local/small-q4.gguf)" in line
        assert "2 x --judge-max-tokens 1200" in line and "context of 2,048 tokens" in line
        assert "Traceback" not in out + err
        assert llm.requests == 0
        assert q(db, "select count(*) from raw.pairs")[0][0] == 0
        # the server restarted with a larger context (llama.cpp -c 8192): the run fits
        llm.n_ctx = 8192
        assert run_cli(local_args(db, server, files)) == 0
    finally:
        server.stop()


def test_vllm_unknown_model_is_refused_and_schemas_reach_it(tmp_path, secret, capfd):
    llm = FakeLLM.vllm(models=("gen/model", "judge/one"), max_model_len=32768)
    server = served(llm)
    try:
        files = write_candidates(tmp_path / "cand", n_templates=1, n_pairs=1, n_scenarios=1)
        db = tmp_path / "w.duckdb"
        argv = collect_args(db, server.base_url, files)
        bad = list(argv)
        bad[bad.index("gen/model")] = "gen/modle"
        assert run_cli(bad) == 2
        _, err = capfd.readouterr()
        assert err.strip().splitlines()[-1].startswith("error: --generator gen/modle: the server at ")
        assert llm.requests == 0
        assert run_cli(argv + ["--judge-output", "schema"]) == 0
        found = json.loads(q(db, "select params->'server' from raw.measurements")[0][0])
        assert found["server"] == "vllm"
        assert found["models"]["judge/one"]["judge_output"] == ["json_schema", "guided_json", "json_object"]
        assert found["models"]["gen/model"]["context_length"] == 32768
        judges = [b for b in llm.bodies if not is_generation(b)]
        assert judges and all(b["response_format"]["type"] == "json_schema" for b in judges)
    finally:
        server.stop()


def test_no_request_times_out_while_it_queues(tmp_path, secret, capfd):
    """One slot, 0.15 s a request: 16 requests at once would wait up to 2.4 s in the server's
    queue, past the 0.8 s timeout. The run sends one at a time, as the server's /props says."""
    llm = FakeLLM.llama_cpp(n_ctx=32768, slots=1, work_s=0.15)
    server = served(llm)
    try:
        files = write_candidates(tmp_path / "cand", n_templates=1, n_pairs=1, n_scenarios=2)
        db = tmp_path / "w.duckdb"
        assert run_cli(local_args(db, server, files, "--concurrency", "16", "--timeout", "0.8")) == 0
        out, _ = capfd.readouterr()
        assert "0 retries" in out and llm.requests == 2 * 8
        assert llm.max_in_slot == 1          # never a request waiting in the server
    finally:
        server.stop()


def test_a_reply_the_schema_allowed_but_the_validator_refused_is_counted(tmp_path, secret, capfd):
    llm = FakeLLM.vllm(models=("gen/model", "judge/one"))
    server = served(llm)
    try:
        files = write_candidates(tmp_path / "cand", n_templates=1, n_pairs=1, n_scenarios=1)
        db = tmp_path / "w.duckdb"
        llm.add_fault("content", content='{"target_reason": "x", "A_more_target_than_B": 4.25}',
                      match=lambda b: not is_generation(b) and "A_more_target_than_B" in str(b), times=1)
        assert run_cli(collect_args(db, server.base_url, files)) == 0
        out, _ = capfd.readouterr()
        assert "judge replies under a JSON schema that the validator refused: 1" in out
    finally:
        server.stop()


def test_cache_key_normalises_the_base_url():
    from collect.client import cache_key, normalise_base_url
    m = [{"role": "user", "content": "hi"}]
    same = {"http://localhost:8080/v1", "http://127.0.0.1:8080/v1/", "HTTP://LOCALHOST:8080/v1"}
    assert {normalise_base_url(u) for u in same} == {"http://127.0.0.1:8080/v1"}
    assert len({cache_key(u, "m", m, {"temperature": 0}) for u in same}) == 1
    assert normalise_base_url("https://openrouter.ai:443/api/v1/") == "https://openrouter.ai/api/v1"
    assert normalise_base_url("http://user:pw@LOCALHOST:8000/v1") == "http://127.0.0.1:8000/v1"
    assert cache_key("http://127.0.0.1:8080/v1", "m", m, {"seed": 1}) != \
        cache_key("http://127.0.0.1:8080/v1", "m", m, {"seed": 2})


def test_a_reply_cut_by_the_server_says_so():
    from collect.client import ChatResult
    from collect.run import generation_error
    cut = ChatResult(content="abc", finish_reason="length", completion_tokens=37)
    assert "the server stopped it at 37 of max_tokens 400" in generation_error("pos", cut, 400)
    assert "server" not in generation_error("pos", ChatResult(content="a", finish_reason="length",
                                                              completion_tokens=400), 400)


def test_judge_schema_comes_from_the_panels():
    from warehouse.judge_schema import json_schema, panel, spec
    style = json_schema("style", "v3")
    assert list(style["properties"]) == list(spec("style", protocol="v3"))
    assert {f"{d}_A" for d in panel("style")} <= set(style["required"])
    assert style["properties"]["verbosity_A"] == {"type": "number", "minimum": 1.0, "maximum": 7.0}
    assert style["additionalProperties"] is False
    axis = json_schema("positive_axis_forward", "v3")["properties"]
    assert axis["A_more_target_than_B"] == {"type": "number", "minimum": 1.0, "maximum": 5.0}


def test_dry_run_writes_nothing_to_an_existing_warehouse(tmp_path, fake, secret, capfd):
    import hashlib
    files = write_candidates(tmp_path / "cand", n_templates=1, n_pairs=1, n_scenarios=1)
    db = tmp_path / "wh" / "w.duckdb"
    assert run_cli(collect_args(db, fake.base_url, files)) == 0
    before = (sorted(p.name for p in db.parent.iterdir()), hashlib.sha256(db.read_bytes()).hexdigest())
    more = write_candidates(tmp_path / "more", n_templates=1, n_pairs=2, n_scenarios=3)
    requests = fake.llm.requests
    plan = tmp_path / "plan.jsonl"
    assert run_cli(collect_args(db, fake.base_url, more, "--dry-run", "--plan-out", str(plan))) == 0
    _, err = capfd.readouterr()
    assert "dry run: checked, not loaded" in err and "server http://127.0.0.1:" in err
    assert len(plan.read_text().splitlines()) == 6 and fake.llm.requests == requests
    assert (sorted(p.name for p in db.parent.iterdir()), hashlib.sha256(db.read_bytes()).hexdigest()) == before


def test_without_a_slot_count_concurrency_grows_while_latency_holds(tmp_path, secret, capfd):
    """The same one-slot server, but its /props does not say so: AIMD starts at two requests,
    halves when the latency shows a queue, and no request times out."""
    llm = FakeLLM.llama_cpp(n_ctx=32768, slots=1, work_s=0.1)
    llm.report_slots = False
    server = served(llm)
    try:
        files = write_candidates(tmp_path / "cand", n_templates=1, n_pairs=1, n_scenarios=2)
        db = tmp_path / "w.duckdb"
        assert run_cli(local_args(db, server, files, "--concurrency", "16", "--timeout", "1.0")) == 0
        out, _ = capfd.readouterr()
        assert "0 retries" in out and "concurrency: AIMD" in out
        assert llm.max_in_slot <= 6          # 16 at once would wait up to 1.6 s in the queue
    finally:
        server.stop()


def test_aimd_grows_fast_until_congestion_then_halves():
    from collect.aimd import AdaptiveLimit
    lim = AdaptiveLimit(ceiling=16, start=2)
    for _ in range(5):
        lim.observe(0.1, False)             # latency holds: one more per answer
    assert lim.limit == 7
    lim.observe(None, True)                 # a timeout, 429 or 5xx
    assert lim.limit == 3.5 and not lim.slow_start
    lim.observe(0.1, False)
    assert 3.5 < lim.limit < 4              # now one per `limit` answers
    lim.observe(0.15, False)                # a little slower: requests begin to queue
    assert 3.5 < lim.limit < 4.5
    lim.observe(1.0, False)                 # ten times the fastest: requests wait in the server
    assert lim.limit < 2.3
    for _ in range(200):
        lim.observe(0.1, False)
    assert lim.limit == 16 and lim.peak == 16


def test_judge_output_modes_and_model_checks():
    import pytest
    from collect.serverfit import check_models, judge_flavour
    from warehouse.errors import UserError
    llama = {"base_url": "http://127.0.0.1:8080/v1", "listed_models": ["small.gguf", "qwen3:latest"],
             "models": {"j": {"seed": True, "judge_output": ["json_object_schema", "json_object"]},
                        "plain": {"seed": False, "judge_output": []}}}
    assert [judge_flavour(m, "j", llama) for m in ("auto", "schema", "object", "prompt")] == \
        ["json_object_schema", "json_object_schema", "json_object", None]
    assert judge_flavour("auto", "plain", llama) is None
    with pytest.raises(UserError, match="--judge-output schema: .* accepted no JSON schema for plain"):
        judge_flavour("schema", "plain", llama)
    check_models(llama, ["small.gguf"], ["qwen3"])          # Ollama's implicit :latest tag
    with pytest.raises(UserError, match=r"^--judge other: the server at .* does not serve this model"):
        check_models(llama, ["small.gguf"], ["other"])
