"""Stable keys for rows that Python writes (dbt derives the rest in SQL).

A pair is one cell x scenario x sample of one measurement; its key must be the
same whether the pair came from a run artifact or from `psw collect`, so that a
collected run and a re-ingested artifact of it land on the same rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import duckdb


def _md5(*parts: object) -> str:
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.md5(joined.encode("utf-8")).hexdigest()


def pair_id(measurement_id: str, template_text: str, persona_pair_id: str, scenario_text: str,
            sample_idx: int = 0, *, scenario_id: str | None = None, source_run: str | None = None,
            row_idx: int | None = None) -> str:
    """A pair: measurement x template x persona pair x scenario x sample, plus where a source names it.

    The run a pooled export names (`artifact`), the pair's row in that run and the scenario's id
    are part of its identity when given, so two records that differ in any of them stay two
    pairs. Parts that are absent add nothing, so keys of records without them do not change;
    dbt computes the same key (macro pair_key) with concat_ws, which skips NULLs the same way.
    """
    named = [f"{name}={value}" for name, value in
             (("scenario_id", scenario_id), ("run", source_run), ("row", row_idx)) if value is not None]
    return "pr_" + _md5(measurement_id, template_text, persona_pair_id, scenario_text, sample_idx, *named)[:20]


def judgment_id(pair: str, judge_model: str, prompt_hash: str, criterion: str,
                content: str) -> str:
    return "jd_" + _md5(pair, judge_model, prompt_hash, criterion, content)[:24]


def text_hash(text: str) -> str:
    """Hash of a prompt template or any text that must be recorded by value."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def pair_id_sql(measurement_id: str, template_text: str, persona_pair_id: str, scenario_text: str,
                sample_idx: str, scenario_id: str, source_run: str, row_idx: str) -> str:
    """The DuckDB expression that computes `pair_id` from column expressions, for ingest's set-wise
    checks and loads. tests/core/test_identity.py keeps it equal to pair_id() above."""
    named = ", ".join(f"'{name}=' || ({expr})" for name, expr in
                      (("scenario_id", scenario_id), ("run", source_run), ("row", row_idx)))
    return (f"'pr_' || left(md5(concat_ws(chr(31), {measurement_id}, {template_text}, {persona_pair_id}, "
            f"{scenario_text}, ({sample_idx})::varchar, {named})), 20)")


def members_sql(record: str) -> str:
    """The DuckDB expression for a JSON object's members, MAP(VARCHAR, JSON) in the record's order
    (each value as the parser read it). It fails on a duplicate key (ingest refuses those first)."""
    return f"({record})::json::map(varchar, json)"


def canonical_record_sql(record: str, members: str | None = None) -> str:
    """The DuckDB expression for a JSON object's canonical text: its members sorted by key, each
    value as the parser read it (re-serialised: whitespace, escapes and number spellings do not
    count). Key order inside nested objects counts. `record` must hold no duplicate key (ingest
    refuses those first). `members`: members_sql(record) already computed (parsing is the cost)."""
    return f"to_json(list_sort(map_entries({members or members_sql(record)})))"


def record_id_sql(measurement_id: str, record: str, members: str | None = None) -> str:
    """The DuckDB expression for a record's id: md5 over a separator-safe encoding (one JSON object)
    of its measurement (NULL for candidates) and its canonical parsed record. The same record
    re-serialised has the same id; two distinct (measurement, record) never share the encoding.
    The object's text is written by concatenation, byte for byte what
    `to_json(struct_pack(m := measurement, r := canonical::json))` writes (tests/core/test_identity.py),
    without parsing the canonical text a second time to embed it (~20% of the id's cost, 100k lines)."""
    return (f"""md5('{{"m":' || coalesce(to_json(({measurement_id})::varchar), 'null') || ',"r":' """
            f"""|| coalesce({canonical_record_sql(record, members)}, 'null') || '}}')""")


def record_ids(measurement_ids: Sequence[str | None], records: Sequence[str]) -> list[str]:
    """record_id_sql for records given as JSON texts (writers that build rows in Python), in order."""
    if not records:
        return []
    import pyarrow as pa  # writers that build rows in Python have it loaded already

    con = duckdb.connect()
    try:
        con.register("_given", pa.table({"i": pa.array(range(len(records)), pa.int64()),
                                         "m": pa.array(list(measurement_ids), pa.string()),
                                         "r": pa.array(list(records), pa.large_string())}))
        return [row[0] for row in con.execute(f"select {record_id_sql('m', 'r')} from _given order by i").fetchall()]
    finally:
        con.close()
