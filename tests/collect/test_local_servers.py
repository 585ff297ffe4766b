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

    # staging keeps one row per pair: the successful one
    from psw.commands.build import run_dbt
    assert run_dbt(db, "run", ["--quiet", "--select", "stg_raw__pairs"])
    assert q(db, "select count(*), count(distinct pair_id), count(error) from staging.stg_raw__pairs") == [(3, 3, 0)]
