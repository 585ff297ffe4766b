"""Trait and coherence scores (0-100), and AxBench's 0-2 ratings, for steering generations, through collect's HTTP
client and its cache (raw.api_calls). A reply without a usable number is an error row.

The questions asked are the rubric files (extract/rubric.py); each judgment stores its
rubric's hash (`prompt_hash`) and each rubric's text is stored once (raw.steering_rubrics),
so scores from an edited rubric sit beside the old ones instead of replacing them."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Sequence

import duckdb

from extract.rubric import SCALE_MAX, Rubric, load_rubrics
from extract.store import md5, now
from warehouse import secrets
from warehouse.append import append, transaction
from warehouse.schema import ensure_raw_schema
from warehouse.errors import missing_api_key

PARAMS = {"temperature": 0.0, "max_tokens": 16}
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def parse_score(text: str | None, top: int = 100) -> tuple[float | None, str | None]:
    match = NUMBER.search(text or "")
    if match is None:
        return None, "no number in reply"
    score = float(match.group())
    if not 0 <= score <= top:
        return None, f"score {score} outside 0-{top}"
    return score, None


def _client(base_url: str, api_key_env: str, cache: dict, on_response):
    from collect.client import ChatClient

    key = os.environ.get(api_key_env) if api_key_env else None
    loopback = re.match(r"https?://(localhost|127\.|\[::1\])", base_url)
    if not key and not loopback:
        raise missing_api_key(api_key_env, base_url)
    return ChatClient(base_url, key, concurrency=8, cache=cache, on_response=on_response)


def judge_generations(con: duckdb.DuckDBPyConnection, generation_ids: Sequence[str], judges: Sequence[str],
                      trait: dict, base_url: str, api_key_env: str, rubrics: dict[str, Rubric] | None = None,
                      client_factory=_client) -> int:
    """Score each generation for each rubric's criterion (default: the bundled rubrics) with each
    judge; returns new rows. A generation already scored by that judge under that rubric is not
    asked again."""

    rubrics = rubrics or load_rubrics()
    ensure_raw_schema(con)
    generations = con.execute(
        "select generation_id, scenario_text, response_text from raw.steering_generations "
        "where list_contains(?, generation_id) order by generation_id", [list(generation_ids)]).fetchall()
    done = {tuple(r) for r in con.execute(
        "select generation_id, judge_model, criterion, prompt_hash from raw.steering_judgments "
        "where score is not null").fetchall()}
    todo = [(gid, judge, rubric, rubric.fill(question=question, answer=answer, pos=trait["pos"], neg=trait["neg"]))
            for gid, question, answer in generations for judge in judges for rubric in rubrics.values()
            if (gid, judge, rubric.criterion, rubric.hash) not in done]
    if not todo:
        return 0
    results, calls = _ask(con, [(judge, prompt) for _, judge, _, prompt in todo], base_url, api_key_env,
                          client_factory)
    created = now()
    rows = []
    for (gid, judge, rubric, _), result in zip(todo, results):
        score, error = (None, result.error) if result.error else parse_score(result.content,
                                                                              SCALE_MAX[rubric.criterion])
        content, error = secrets.redact(result.content), secrets.redact(error)
        rows.append({"judgment_id": md5(gid, judge, rubric.criterion, rubric.hash, content, error),
                     "generation_id": gid, "judge_model": judge, "criterion": rubric.criterion,
                     "prompt_hash": rubric.hash, "score": score, "raw_text": content, "error": error,
                     "created_at": created})
    used = {r.hash: r for _, _, r, _ in todo}
    with transaction(con):
        _store_api_calls(con, calls, created)
        append(con, "raw.steering_rubrics", [
            {"rubric_hash": h, "rubric_text": r.text, "source_path": str(r.path),
             "created_at": created} for h, r in used.items()], "rubric_hash")
        return append(con, "raw.steering_judgments", rows, "judgment_id")


def _ask(con, requests: list[tuple[str, str]], base_url: str, api_key_env: str, client_factory):
    """(results, api call records) for (judge model, prompt) pairs, through the api_calls cache."""
    from collect.client import normalise_base_url

    # the client stores each call under the server's normalised URL (no credentials); older rows as given
    cache = {k: (c, f) for k, c, f in con.execute(
        "select cache_key, content, finish_reason from raw.api_calls where list_contains(?, base_url)",
        [[normalise_base_url(base_url), base_url.rstrip("/")]]).fetchall()}
    calls: list[dict] = []

    async def run_all():
        client = client_factory(base_url, api_key_env, cache, calls.append)
        try:
            return await asyncio.gather(*(client.chat(judge, [{"role": "user", "content": prompt}], PARAMS)
                                          for judge, prompt in requests))
        finally:
            await client.aclose()

    return asyncio.run(run_all()), calls


def _store_api_calls(con: duckdb.DuckDBPyConnection, calls: list[dict], created) -> None:
    columns = ["cache_key", "base_url", "model", "request", "response", "content", "finish_reason",
               "prompt_tokens", "completion_tokens", "cost", "attempts", "latency_s"]
    # the client redacts what the server sends; this catches anything that reached a row another way
    rows = [[secrets.redact_value(call.get(c)) for c in columns] + [None, "extract_steer_judge", created]
            for call in calls]
    if rows:
        names = ", ".join([*columns, "measurement_id", "load_id", "created_at"])
        con.executemany(f"insert into raw.api_calls ({names}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "on conflict do nothing", rows)
