"""What `psw import-hf` lets in: ingest's own checks, within row and byte caps.

- Checks: the records an import writes are checked by exactly the code ingest uses: the SQL
  checks of ingest/checks.py (`extract_sql` / `reasons_sql`) for exported examples, persona
  pairs and scenarios, and warehouse.judge_schema.problem for raw judge objects. One validator:
  nothing here restates a rule.
- Caps: a published library is someone else's data. Rows and decoded bytes are counted before
  they are materialised (parquet metadata first, then batch by batch with text columns kept
  dictionary-encoded), so a small file that expands to gigabytes is refused while it is still small.
  `--max-rows` / `--max-bytes` (or PSW_IMPORT_MAX_ROWS / PSW_IMPORT_MAX_BYTES) raise them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.checks import extract_sql, reasons_sql
from warehouse.errors import UserError
from warehouse.judge_schema import PILOT_CRITERIA, V3_CRITERIA, problem
from warehouse.schema import EXPORTED_PAIR_ID_SQL

DEFAULT_MAX_ROWS = 1_000_000
DEFAULT_MAX_BYTES = 512 << 20
BATCH_ROWS = 256
CHECKED_KINDS = {"raw.exported_pairs": "examples", "raw.persona_pairs": "pairs", "raw.scenarios": "scenarios",
                 "raw.published_stats": "stats"}
_UNITS = {"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def parse_size(text: str, where: str) -> int:
    """'512MB', '2GB', '1000000' -> bytes (binary units)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*", str(text), re.I)
    if not match:
        raise UserError(f"{where}: {text!r} is not a size (e.g. 512MB, 2GB)")
    unit = match.group(2).upper()
    return int(float(match.group(1)) * _UNITS[unit if unit.endswith("B") or not unit else unit + "B"])


@dataclass
class Caps:
    """What one import may read in all: rows and decoded (in-memory Arrow) bytes."""
    max_rows: int = DEFAULT_MAX_ROWS
    max_bytes: int = DEFAULT_MAX_BYTES
    rows: int = 0
    bytes: int = 0

    @classmethod
    def from_settings(cls, max_rows: int | None = None, max_bytes: int | str | None = None) -> "Caps":
        rows = max_rows if max_rows is not None else os.environ.get("PSW_IMPORT_MAX_ROWS") or DEFAULT_MAX_ROWS
        size = max_bytes if max_bytes is not None else os.environ.get("PSW_IMPORT_MAX_BYTES") or DEFAULT_MAX_BYTES
        try:
            rows = int(rows)
        except ValueError:
            raise UserError(f"--max-rows: {rows!r} is not a whole number") from None
        return cls(rows, size if isinstance(size, int) else parse_size(size, "--max-bytes"))

    def fits(self, rows: int, nbytes: int, where: str) -> None:
        """Refuse before reading when what `where` declares already passes a cap."""
        self._check(self.rows + rows, self.bytes + nbytes, where)

    def add(self, rows: int, nbytes: int, where: str) -> None:
        self._check(self.rows + rows, self.bytes + nbytes, where)
        self.rows += rows
        self.bytes += nbytes

    def _check(self, rows: int, nbytes: int, where: str) -> None:
        if rows > self.max_rows:
            raise UserError(f"{where}: the import passes {self.max_rows} rows (the --max-rows cap, or "
                            f"PSW_IMPORT_MAX_ROWS); nothing imported")
        if nbytes > self.max_bytes:
            raise UserError(f"{where}: the import expands past {_mb(self.max_bytes)} in memory (the --max-bytes "
                            f"cap, or PSW_IMPORT_MAX_BYTES); nothing imported")


def _mb(n: int) -> str:
    return f"{n / (1 << 20):.0f} MB"


# ---- reading within the caps -------------------------------------------------------------------

def read_parquet(path: Path, caps: Caps) -> pa.Table:
    """A parquet file as a table, counted against the caps before it is decoded."""
    try:
        plain = pq.ParquetFile(path)
        meta = plain.metadata
        declared = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        caps.fits(meta.num_rows, declared, str(path))
        texts = [f.name for f in plain.schema_arrow if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        reader = pq.ParquetFile(path, read_dictionary=texts)   # repeated text stays one copy until counted
        batches = []
        for batch in reader.iter_batches(batch_size=BATCH_ROWS):
            caps.add(batch.num_rows, decoded_bytes(batch), str(path))
            batches.append(batch)
        table = pa.Table.from_batches(batches) if batches else reader.read()
        return table.cast(plain.schema_arrow) if texts else table
    except (pa.ArrowException, OSError) as exc:
        raise UserError(f"{path}: not a readable parquet file ({exc}); nothing imported") from None


def decoded_bytes(batch: pa.RecordBatch) -> int:
    """Bytes the batch takes once its dictionary columns are decoded (without decoding them)."""
    total = 0
    for column in batch.columns:
        if pa.types.is_dictionary(column.type):
            lengths = pc.take(pc.binary_length(column.dictionary), column.indices)
            total += (pc.sum(lengths).as_py() or 0) + 8 * len(column)
        else:
            total += column.nbytes
    return total


def count_table(table: pa.Table, caps: Caps, where: str) -> None:
    """A table that is already in Arrow (the datasets route: memory-mapped), counted."""
    caps.add(table.num_rows, table.nbytes, where)


# ---- ingest's checks ----------------------------------------------------------------------------

def check_loads(loads) -> None:
    """Every record an import would write, through ingest's checks; UserError on the first bad one."""
    con = duckdb.connect()
    try:
        for ld in loads:
            for table, _key, rows in ld.tables:
                if table in CHECKED_KINDS:
                    _check_records(con, ld.split, CHECKED_KINDS[table], rows)
                if table == "raw.exported_pairs":
                    _check_pair_keys(con, ld.split, rows)
                elif table == "raw.judgments":
                    _check_judgments(ld.split, rows)
    finally:
        con.close()


def _check_pair_keys(con, split, rows: list[dict]) -> None:
    """Ingest's identity rule: two different records with one pair key are refused, never merged."""
    if not rows:
        return
    con.register("_pairs", pa.table({"measurement_id": [r["measurement_id"] for r in rows],
                                     "line_no": [r["line_no"] for r in rows], "record_id": [r["record_id"] for r in rows],
                                     "record": [r["record"] for r in rows]}))
    try:
        clash = con.execute(f"""
            select list(line_no order by line_no)[1:2] from (
                select line_no, record_id, {EXPORTED_PAIR_ID_SQL} as pair_id
                from (select line_no, record_id, measurement_id, record::json as record from _pairs))
            group by pair_id having count(distinct record_id) > 1
            order by min(line_no) limit 1""").fetchall()
    finally:
        con.unregister("_pairs")
    if clash:
        first, second = clash[0][0]
        raise UserError(f"split {split.name} ({split.origin}) row {second}: same pair as row {first} (template, persona "
                        f"pair, scenario, sample, run, row and scenario_id all equal) but different content; "
                        f"nothing imported")


def _check_records(con, split, kind: str, rows: list[dict]) -> None:
    if not rows:
        return
    con.register("_import", pa.table({"line_no": [r["line_no"] for r in rows],
                                      "record": [r["record"] for r in rows]}))
    try:
        bad = con.execute(f"""
            select line_no, reasons[1], count(*) over () as n_bad
            from (select line_no, t, case when t is null then ['not a JSON object'] else {reasons_sql(kind)} end
                         as reasons
                  from (select line_no, {extract_sql(kind)} from _import))
            where len(reasons) > 0 order by line_no limit 1""").fetchall()
    finally:
        con.unregister("_import")
    if bad:
        line_no, reason, n_bad = bad[0]
        more = f" (and {n_bad - 1} more row(s))" if n_bad > 1 else ""
        raise UserError(f"split {split.name} ({split.origin}) row {line_no}: {reason}{more}; nothing imported")


def _check_judgments(split, rows: list[dict]) -> None:
    for row in rows:
        if row.get("error") is not None or row.get("output") is None:
            continue    # an error row keeps its raw text and reason; it is never scored
        criterion, output = row["criterion"], row["output"]
        found = f"unknown criterion {criterion!r}" if criterion not in {*PILOT_CRITERIA, *V3_CRITERIA} else None
        if found is None:
            try:
                found = problem(criterion, json.loads(output) if isinstance(output, str) else output)
            except ValueError as exc:
                found = f"output is not JSON ({exc})"
        if found:
            raise UserError(f"split {split.name} ({split.origin}) pair {row['pair_id']}: {row['judge_model']} "
                            f"{criterion} judgment: {found}; nothing imported")
