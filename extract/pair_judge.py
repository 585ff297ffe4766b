"""Trait and coherence scores (0-100) of a pair's own two completions, for persona_vectors'
effective-pair rule (the `pair_response_scores` mart: positive trait >= 50, negative < 50, both
coherent). Each completion is judged alone, with the steering judge's rubrics (extract/rubric.py):
`{pos}` / `{neg}` the cell's personas, `{question}` the scenario, `{answer}` the completion, so a
pair is scored on the axis it was generated for. Through collect's HTTP client and the
raw.api_calls cache, like extract/judge.py; a reply without a usable number is an error row."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from extract.judge import _ask, _store_api_calls, _client, parse_score
from extract.rubric import SCALE_MAX, Rubric, load_rubrics
from extract.store import md5, now
from warehouse import secrets
from warehouse.db import connect
from warehouse.append import append, transaction
from warehouse.errors import UserError
from warehouse.schema import ensure_raw_schema

PAIRS_SQL = """
select pair_id, pos_persona, neg_persona, scenario_text, pos_response, neg_response
from main.examples
where measurement_id = $measurement and ($cell is null or cell_id = $cell)
  and not coalesce(is_error, false)
order by pair_id
"""


def measurement_pairs(con: duckdb.DuckDBPyConnection, measurement_id: str, cell_id: str | None) -> list[tuple]:
    """(pair_id, pos persona, neg persona, scenario, pos response, neg response) of a measurement's
    successful pairs (one cell's with cell_id); UserError when there are none."""
    try:
        rows = con.execute(PAIRS_SQL, {"measurement": measurement_id, "cell": cell_id}).fetchall()
    except duckdb.CatalogException:
        raise UserError("examples: no `examples` mart yet; run `psw ingest ...` then `psw build`") from None
    if not rows:
        where = f" in cell {cell_id}" if cell_id else ""
        raise UserError(f"--measurement {measurement_id}: no successful pairs{where} in `examples`")
    return rows


def judge_pairs(con: duckdb.DuckDBPyConnection, pairs: Sequence[tuple], judges: Sequence[str], base_url: str,
                api_key_env: str, rubrics: dict[str, Rubric] | None = None, client_factory=_client) -> int:
    """Score both completions of each pair for trait and coherence with each judge; returns new rows.
    A completion already scored by that judge under that rubric is not asked again."""
    rubrics = {c: r for c, r in (rubrics or load_rubrics()).items() if c in ("trait", "coherence")}
    ensure_raw_schema(con)
    done = {tuple(r) for r in con.execute(
        "select pair_id, side, judge_model, criterion, prompt_hash from raw.pair_response_judgments "
        "where score is not null").fetchall()}
    todo = []
    for pair_id, pos, neg, question, pos_response, neg_response in pairs:
        for side, answer in (("pos", pos_response), ("neg", neg_response)):
            for judge in judges:
                for rubric in rubrics.values():
                    if (pair_id, side, judge, rubric.criterion, rubric.hash) not in done:
                        prompt = rubric.fill(pos=pos or "", neg=neg or "", question=question or "", answer=answer or "")
                        todo.append((pair_id, side, judge, rubric, prompt))
    if not todo:
        return 0
    results, calls = _ask(con, [(judge, prompt) for _, _, judge, _, prompt in todo], base_url, api_key_env,
                          client_factory)
    created = now()
    rows = []
    for (pair_id, side, judge, rubric, _), result in zip(todo, results):
        score, error = (None, result.error) if result.error else parse_score(result.content,
                                                                              SCALE_MAX[rubric.criterion])
        content, error = secrets.redact(result.content), secrets.redact(error)
        rows.append({"judgment_id": md5(pair_id, side, judge, rubric.criterion, rubric.hash, content, error),
                     "pair_id": pair_id, "side": side, "judge_model": judge, "criterion": rubric.criterion,
                     "prompt_hash": rubric.hash, "score": score, "raw_text": content, "error": error,
                     "created_at": created})
    used = {r.hash: r for _, _, _, r, _ in todo}
    with transaction(con):
        _store_api_calls(con, calls, created)
        append(con, "raw.steering_rubrics", [
            {"rubric_hash": h, "rubric_text": r.text, "source_path": str(r.path),
             "created_at": created} for h, r in used.items()], "rubric_hash")
        return append(con, "raw.pair_response_judgments", rows, "judgment_id")


def judge_measurement(db: Path, measurement_id: str, cell_id: str | None, judges: Sequence[str], base_url: str,
                      api_key_env: str, rubrics: dict[str, Rubric] | None = None) -> tuple[int, int]:
    """`psw extract judge --measurement`: (pairs, new judgments). The pairs are read before the
    warehouse is opened for writing, so a measurement without pairs writes nothing."""
    con = connect(db, read_only=True)
    try:
        pairs = measurement_pairs(con, measurement_id, cell_id)
    finally:
        con.close()
    con = connect(db)
    try:
        return len(pairs), judge_pairs(con, pairs, judges, base_url, api_key_env, rubrics)
    finally:
        con.close()
