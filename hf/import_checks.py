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

import fnmatch
import json
import os
import re
import socket
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from ingest.checks import extract_sql, reasons_sql
from warehouse import safe_yaml
from warehouse.errors import UserError
from warehouse.judge_schema import PILOT_CRITERIA, V3_CRITERIA, problem
from warehouse.schema import EXPORTED_PAIR_ID_SQL, TYPED_JSON, typed_members_sql

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
    """A parquet file as a table, counted against the caps before it is decoded: first what its
    metadata declares per column chunk (every leaf value of nested lists counted), then batch by
    batch, one row group after another, with every text leaf (nested ones too) kept
    dictionary-encoded until its decoded size has been counted."""
    try:
        plain = pq.ParquetFile(path)
        meta = plain.metadata
        caps.fits(meta.num_rows, declared_bytes(meta), str(path))
        texts = [column.path for column in plain.schema if column.physical_type == "BYTE_ARRAY"]
        reader = pq.ParquetFile(path, read_dictionary=texts)   # repeated text stays one copy until counted
        batches = []
        for group in range(meta.num_row_groups):
            for batch in reader.iter_batches(batch_size=BATCH_ROWS, row_groups=[group]):
                caps.add(batch.num_rows, decoded_bytes(batch), str(path))
                batches.append(batch)
        table = pa.Table.from_batches(batches, reader.schema_arrow) if batches else reader.read()
        return table.cast(plain.schema_arrow) if texts else table
    except (pa.ArrowException, OSError) as exc:
        raise UserError(f"{path}: not a readable parquet file ({exc}); nothing imported") from None


FIXED_WIDTH = {"BOOLEAN": 1, "INT32": 4, "FLOAT": 4, "INT64": 8, "DOUBLE": 8, "INT96": 12}


def declared_bytes(meta) -> int:
    """The least memory the file's values take once read, from its metadata alone: per column
    chunk, its leaf values (list elements included) times their width, and a text chunk's
    uncompressed pages. A file that is small on disk but declares a billion list elements is
    refused here, before a value is read."""
    total = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            chunk = group.column(c)
            width = FIXED_WIDTH.get(chunk.physical_type)
            if width is None and chunk.physical_type == "FIXED_LEN_BYTE_ARRAY":
                width = max(1, meta.schema.column(c).length or 1)
            total += chunk.num_values * (width if width is not None else 4) + (
                chunk.total_uncompressed_size if width is None else 0)
    return total


def decoded_bytes(batch) -> int:
    """Bytes the batch takes once its dictionary leaves are decoded (without decoding them)."""
    return sum(_decoded(column) for column in batch.columns)


def _decoded(array: pa.Array) -> int:
    kind = array.type
    if pa.types.is_dictionary(kind):
        lengths = pc.take(pc.binary_length(array.dictionary), array.indices)
        return (pc.sum(lengths).as_py() or 0) + 8 * len(array)
    if pa.types.is_map(kind):
        return 4 * (len(array) + 1) + _decoded(array.keys) + _decoded(array.items)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return 8 * (len(array) + 1) + _decoded(array.flatten())
    if pa.types.is_struct(kind):
        return len(array) + sum(_decoded(array.field(i)) for i in range(kind.num_fields))
    return array.nbytes


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
                    # upstream's persona-pair summaries name no template (hf/upstream_hf.py checks their columns)
                    _check_records(con, ld.split, CHECKED_KINDS[table],
                                   [r for r in rows if r.get("level") != "persona_pair"])
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
    _refuse_first_bad(con, split, {"line_no": [r["line_no"] for r in rows], "record": [r["record"] for r in rows]}, f"""
        select line_no, reasons[1], count(*) over () as n_bad
        from (select line_no, t, case when t is null then ['not a JSON object'] else {reasons_sql(kind)} end
                     as reasons
              from (select line_no, {extract_sql(kind)} from _import))
        where len(reasons) > 0 order by line_no limit 1""")


def _check_typed_json(con, split, table: str, rows: list[dict]) -> None:
    """The JSON whose attributes psw types as it writes the row (warehouse.schema.TYPED_JSON) must type
    by that rule: a value it cannot cast (a hand-edited split) is refused here, naming its row."""
    column = TYPED_JSON[table][0]
    texts = [row.get(column) for row in rows]
    if all(text is None for text in texts):
        return
    first_problem = " ".join(f"when ({column} ->> '{name}') is not null and try({sql}) is null "
                             f"then '{column}.{name} is not {type_}'" for name, type_, sql in typed_members_sql(table))
    _refuse_first_bad(con, split, {"row_no": list(range(1, len(rows) + 1)), "given": pa.array(texts, pa.string())}, f"""
        select row_no, problem, count(*) over () as n_bad
        from (select row_no, case when {column} is null then '{column} is not JSON' {first_problem} end as problem
              from (select row_no, try_cast(given as json) as {column} from _import where given is not null))
        where problem is not null order by row_no limit 1""")


def _refuse_first_bad(con, split, columns: dict, sql: str) -> None:
    """Run `sql` over `columns` (registered as `_import`); it yields the first bad row (row, reason,
    how many are bad) or nothing. A bad row refuses the whole import in one line naming it."""
    con.register("_import", pa.table(columns))
    try:
        bad = con.execute(sql).fetchall()
    finally:
        con.unregister("_import")
    if bad:
        row, reason, n_bad = bad[0]
        more = f" (and {n_bad - 1} more row(s))" if n_bad > 1 else ""
        raise UserError(f"split {split.name} ({split.origin}) row {row}: {reason}{more}; nothing imported")


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


# ---- what a local folder offers ------------------------------------------------------------------

def parquet_files(folder: Path) -> list[Path]:
    """The folder's parquet files (dot-folders aside); a file or folder that links out of it
    refuses the import: a published library names its own files only."""
    root = folder.resolve()
    files = []
    for path in sorted(folder.rglob("*.parquet")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_symlink() or not path.resolve().is_relative_to(root):
            raise UserError(f"{path}: a link leading out of {folder} (a library's files live inside its "
                            f"folder); nothing imported")
        files.append(path)
    return files


def card_split_names(folder: Path, files: list[Path]) -> dict[Path, str]:
    """{file: split name} from the card's `configs` (the Hub's data_files layout), matched against
    the folder's own files only; a card that is not what the Hub would read is one line."""
    card = folder / "README.md"
    if not card.is_file():
        return {}
    where = f"{card}"
    if card.is_symlink() or not card.resolve().is_relative_to(folder.resolve()):
        raise UserError(f"{where}: a link leading out of {folder}; nothing imported")
    raw = card.read_bytes()
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise UserError(f"{where}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                        f"nothing imported") from None
    match = re.match(r"---\r?\n(.*?)\r?\n---", text, re.S)
    if not match:
        return {}
    try:
        front = safe_yaml.load(match.group(1))
    except (yaml.YAMLError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 2}" if mark else ""
        raise UserError(f"{where}{line}: front matter is not plain YAML ({getattr(exc, 'problem', None) or 'nested too deeply'}); "
                        f"nothing imported") from None
    if front is None:
        return {}
    if not isinstance(front, dict):
        raise UserError(f"{where}: front matter is a {_kind(front)}, not a mapping; nothing imported")
    configs = front.get("configs") or []
    if not isinstance(configs, list):
        raise UserError(f"{where}: configs is a {_kind(configs)}, not a list; nothing imported")
    relative = {f: f.relative_to(folder).as_posix() for f in files}
    names = {}
    for i, config in enumerate(configs):
        if not isinstance(config, dict):
            raise UserError(f"{where}: configs[{i}] is a {_kind(config)}, not a mapping; nothing imported")
        entries = config.get("data_files") or []
        for entry in entries if isinstance(entries, list) else [entries]:
            entry = {"path": entry} if isinstance(entry, str) else entry
            if not isinstance(entry, dict):
                raise UserError(f"{where}: configs[{i}].data_files holds a {_kind(entry)}; nothing imported")
            split = str(entry.get("split") or "train")
            name = config.get("config_name") if split == "train" else split
            patterns = entry.get("path")
            for pattern in patterns if isinstance(patterns, list) else [patterns]:
                _check_pattern(pattern, f"{where}: configs[{i}] path")
                for file, rel in relative.items() if isinstance(name, str) and name else ():
                    if fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(rel, pattern.replace("**/", "")):
                        names[file.resolve()] = name
    return names


def _check_pattern(pattern, where: str) -> None:
    if not isinstance(pattern, str) or not pattern.strip():
        raise UserError(f"{where}: {pattern!r} is not a file pattern; nothing imported")
    if pattern.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", pattern) or ".." in pattern.split("/") \
            or "://" in pattern:
        raise UserError(f"{where}: {pattern!r} leaves the library's folder (patterns are relative to it); "
                        f"nothing imported")


def _kind(value) -> str:
    return {dict: "mapping", list: "list", str: "text"}.get(type(value), type(value).__name__)


# ---- a Hub id --------------------------------------------------------------------------------------

def check_hub_reachable(repo: str, timeout_s: float = 3.0) -> None:
    """Before the datasets library retries for half a minute: a repo that is neither in the local
    Hugging Face cache nor reachable (offline, or HF_HUB_OFFLINE set) is one line, at once."""
    from huggingface_hub import constants, snapshot_download

    try:
        snapshot_download(repo, repo_type="dataset", local_files_only=True)
        return                                    # cached: the datasets library reads it offline
    except Exception:  # noqa: BLE001 (not cached, in whatever way the library says so)
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") or \
            os.environ.get("HF_DATASETS_OFFLINE", "").lower() in ("1", "true", "yes"):
        reason = "HF_HUB_OFFLINE is set"
    else:
        host = urllib.parse.urlsplit(constants.ENDPOINT)
        try:
            socket.create_connection((host.hostname, host.port or (443 if host.scheme == "https" else 80)),
                                     timeout=timeout_s).close()
            return
        except OSError as exc:
            reason = f"{host.hostname} cannot be reached: {exc.strerror or type(exc).__name__}"
    raise UserError(f"{repo}: not a local folder, not in the Hugging Face cache, and {reason}; nothing imported")
