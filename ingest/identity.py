"""Pair identity at ingest: nothing merged silently, nothing that a build's key tests would refuse.

Run over the `_records` temp table of an exported-examples file (one row per line, with its
`pair_id` and `record_id`) before anything is written:
- lines that repeat another line byte for byte are stored once and counted;
- two different lines with one pair key are refused, naming both lines;
- a line whose pair key the measurement already holds with other content (from an earlier
  file, or from a run artifact) is refused, naming where the other one came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from ingest.read import Reject

KEY_PARTS = "template, persona pair, scenario, sample, run (`artifact`), row and scenario_id"


@dataclass
class Duplicates:
    n_lines: int = 0             # records that repeat an earlier record exactly (stored once)
    first_line: str | None = None  # where the first repeat is: "line 7", "results[3]"

    def note(self) -> str:
        if not self.n_lines:
            return ""
        return f"; {self.n_lines} record(s) repeating an earlier one exactly were stored once (first: {self.first_line})"


def exact_duplicates(con: duckdb.DuckDBPyConnection) -> Duplicates:
    n, first = con.execute("""
        select count(*), min(line_no) from (
            select line_no, row_number() over (partition by record_id order by line_no) as nth from _records)
        where nth > 1""").fetchone()
    return Duplicates(n, f"line {first}" if n else None)


def conflicting_lines(con: duckdb.DuckDBPyConnection) -> list[Reject]:
    """Lines that share a pair key with an earlier, different line of the same file."""
    rows = con.execute("""
        with firsts as (
            select pair_id, record_id, min(line_no) as line_no from _records group by pair_id, record_id
        ),
        ranked as (
            select *, first_value(line_no) over (partition by pair_id order by line_no) as first_line_no
            from firsts
        )
        select ranked.line_no, ranked.first_line_no, left(_lines.line, 200)
        from ranked join _lines using (line_no)
        where ranked.line_no <> ranked.first_line_no
        order by ranked.line_no""").fetchall()
    return [Reject(line, f"same pair as line {first} ({KEY_PARTS} all equal) but different content; "
                         f"give each record its own `sample` or `row`, or remove one", excerpt)
            for line, first, excerpt in rows]


def already_held(con: duckdb.DuckDBPyConnection, measurement_id: str) -> list[Reject]:
    """Lines whose pair the warehouse already holds, with other content, for this measurement."""
    rows = con.execute("""
        with mine as (select pair_id, record_id, min(line_no) as line_no from _records group by all),
        held as (
            select exported.pair_id, exported.record_id, loads.source_path || ':' || exported.line_no as origin,
                   exported.load_id
            from raw.exported_pairs as exported join raw.loads as loads using (load_id)
            where exported.measurement_id = ?
            union all
            select pairs.pair_id, null, loads.source_path, pairs.load_id
            from raw.pairs as pairs join raw.loads as loads using (load_id)
            where pairs.measurement_id = ?
        )
        select mine.line_no, any_value(held.origin), any_value(held.load_id), left(any_value(_lines.line), 200)
        from mine
        join held on held.pair_id = mine.pair_id and held.record_id is distinct from mine.record_id
        join _lines on _lines.line_no = mine.line_no
        group by mine.line_no
        order by mine.line_no""", [measurement_id, measurement_id]).fetchall()
    return [Reject(line, f"measurement {measurement_id} already holds this pair with different content "
                         f"(from {origin}); remove that load first: psw forget --load {load_id[:12]}", excerpt)
            for line, origin, load_id, excerpt in rows]


_CANDIDATES = {"pairs": ("raw.persona_pairs", "persona pair"), "scenarios": ("raw.scenarios", "scenario")}


def redefined_ids(con: duckdb.DuckDBPyConnection, kind: str) -> list[str]:
    """Candidate ids (persona pairs, scenarios) that this file defines differently from an earlier
    line or load. The latest definition is the one used (the marts and collect read it); say so."""
    table, noun = _CANDIDATES[kind]
    rows = con.execute(f"""
        with mine as (
            select _lines.line_no, _lines.line::json ->> 'id' as id, _records.record_id
            from _records join _lines using (line_no)
        ),
        earlier as (
            select id, record_id, 'line ' || line_no as origin from mine
            union all
            select held.{'persona_pair_id' if kind == 'pairs' else 'scenario_id'}, held.record_id,
                   loads.source_path || ':' || held.line_no
            from {table} as held join raw.loads as loads using (load_id)
            where loads.forgotten_at is null
        )
        select mine.id, min(mine.line_no), any_value(earlier.origin)
        from mine join earlier on earlier.id = mine.id and earlier.record_id <> mine.record_id
             and earlier.origin <> 'line ' || mine.line_no
        group by mine.id order by 2""").fetchall()
    if not rows:
        return []
    first_id, first_line, origin = rows[0]
    return [f"{len(rows)} {noun} id(s) defined differently before, the latest definition is used "
            f"(first: {first_id!r} at line {first_line}, also at {origin})"]
