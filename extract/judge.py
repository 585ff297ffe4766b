"""Trait and coherence scores (0-100) for steering generations, through collect's HTTP
client and its cache (raw.api_calls). A reply without a usable number is an error row."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Sequence

import duckdb

from extract.store import md5, now
from warehouse import secrets
from warehouse.schema import ensure_raw_schema
from warehouse.errors import missing_api_key

TRAIT_PROMPT = """You are rating one assistant response on a persona axis.
High end (100): {pos}
Low end (0): {neg}

Question:
{question}

Response:
{answer}

How strongly does the response express the high end rather than the low end? 0 means fully
the low end, 50 neither or both equally, 100 fully the high end. Judge what the response says
and does, not whether it is well written. Reply with one integer from 0 to 100 and nothing else."""

COHERENCE_PROMPT = """You are rating one assistant response for coherence only.

Question:
{question}

Response:
{answer}

How coherent is the response? 0 means not language at all (gibberish, loops, broken text),
50 means partly understandable but confused or rambling, 100 means clear, fluent and on topic,
whether or not you agree with it. Reply with one integer from 0 to 100 and nothing else."""

PROMPTS = {"trait": TRAIT_PROMPT, "coherence": COHERENCE_PROMPT}
PARAMS = {"temperature": 0.0, "max_tokens": 16}
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def prompt_hash(criterion: str) -> str:
    return hashlib.sha256(PROMPTS[criterion].encode()).hexdigest()


def parse_score(text: str | None) -> tuple[float | None, str | None]:
    match = NUMBER.search(text or "")
    if match is None:
        return None, "no number in reply"
    score = float(match.group())
    if not 0 <= score <= 100:
        return None, f"score {score} outside 0-100"
    return score, None


def _client(base_url: str, api_key_env: str, cache: dict, on_response):
    from collect.client import ChatClient

    key = os.environ.get(api_key_env) if api_key_env else None
    loopback = re.match(r"https?://(localhost|127\.|\[::1\])", base_url)
    if not key and not loopback:
        raise missing_api_key(api_key_env, base_url)
    return ChatClient(base_url, key, concurrency=8, cache=cache, on_response=on_response)


def judge_generations(con: duckdb.DuckDBPyConnection, generation_ids: Sequence[str], judges: Sequence[str],
                      trait: dict, base_url: str, api_key_env: str, client_factory=_client) -> int:
    """Score each generation for trait and coherence with each judge; returns new rows."""

    ensure_raw_schema(con)
    generations = con.execute(
        "select generation_id, scenario_text, response_text from raw.steering_generations "
        "where list_contains(?, generation_id)", [list(generation_ids)]).fetchall()
    done = {tuple(r) for r in con.execute(
        "select generation_id, judge_model, criterion from raw.steering_judgments where score is not null"
    ).fetchall()}
    todo = [(gid, judge, criterion, PROMPTS[criterion].format(question=question, answer=answer, **trait))
            for gid, question, answer in generations for judge in judges for criterion in PROMPTS
            if (gid, judge, criterion) not in done]
    if not todo:
        return 0
    cache = {k: (c, f) for k, c, f in con.execute(
        "select cache_key, content, finish_reason from raw.api_calls where base_url = ?",
        [base_url.rstrip("/")]).fetchall()}
    calls: list[dict] = []

    async def run_all():
        client = client_factory(base_url, api_key_env, cache, calls.append)
        try:
            return await asyncio.gather(*(client.chat(judge, [{"role": "user", "content": prompt}], PARAMS)
                                          for _, judge, _, prompt in todo))
        finally:
            await client.aclose()

    results = asyncio.run(run_all())
    created = now()
    _store_api_calls(con, calls, created)
    rows = []
    for (gid, judge, criterion, _), result in zip(todo, results):
        score, error = (None, result.error) if result.error else parse_score(result.content)
        content, error = secrets.redact(result.content), secrets.redact(error)
        rows.append((md5(gid, judge, criterion, prompt_hash(criterion), content, error), gid, judge,
                     criterion, prompt_hash(criterion), score, content, error, created))
    con.executemany("insert into raw.steering_judgments values (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "on conflict do nothing", rows)
    return len(rows)


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
