"""Read an input file: hash it, find its first record, detect its kind; name bad lines.

The bytes are checked by DuckDB as it reads the lines (UTF-8 included). Only a file
that DuckDB's line reader refuses is read here line by line, to name each bad line
(file:line) and to hand DuckDB the good ones in Arrow batches.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

KINDS = ("pairs", "templates", "scenarios", "examples", "artifact", "stats", "catalog", "trait", "inspect", "selection")
# a stats CSV names its template and at least one of these in its header (ingest/csv_stats.py)
STATS_COLUMNS = {"n", "strict_pass_rate", "mean_axis_delta", "score_mean", "model_count"}
BATCH_LINES = 50_000
CHUNK = 1 << 23


@dataclass
class Reject:
    line_no: int | None
    reason: str
    excerpt: str = ""


BOM = b"\xef\xbb\xbf"


@dataclass
class FileScan:
    path: Path
    sha256: str
    first_line: str | None  # the first non-blank line (bad bytes replaced, BOM removed), for kind detection
    stat: tuple = ()        # (size, mtime_ns, inode) when hashed: the load checks it still holds


def scan(path: Path) -> FileScan:
    """The file's sha256 (one pass in large chunks) and its first non-blank line."""
    digest = hashlib.sha256()
    before = _stat(path)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return FileScan(path, digest.hexdigest(), _first_line(path), before)


def _stat(path: Path) -> tuple:
    st = path.stat()
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def unchanged(scan_: FileScan) -> bool:
    """True while the file is the one that was hashed (nothing truncated, appended or replaced)."""
    try:
        return _stat(scan_.path) == scan_.stat
    except OSError:
        return False


def _first_line(path: Path) -> str | None:
    with path.open("rb") as handle:
        for raw in handle:
            if raw.strip(BOM + b" \t\r\n"):
                return raw.removeprefix(BOM).decode("utf-8", errors="replace")
    return None


def bad_utf8_lines(path: Path) -> list[Reject]:
    """Every line that is not valid UTF-8, with the first bad byte and its column."""
    rejects: list[Reject] = []
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                rejects.append(Reject(line_no, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"))
    return rejects


def detect_kind(scan_: FileScan) -> str | None:
    """Guess the kind from the first non-blank record; None when nothing fits."""
    first = scan_.first_line
    if first is None:
        return None
    stripped = first.strip()
    if stripped.startswith("[") and _parses(stripped):
        raise ValueError("a JSON array: psw ingest reads JSON Lines (one object per line) or a run artifact "
                         "(one object with results[]); write the array's items one per line")
    if stripped.startswith("{") and not stripped.startswith("{persona}"):
        try:
            obj = json.loads(stripped)
        except (json.JSONDecodeError, RecursionError):
            # a pretty-printed JSON document: only run artifacts come that way; a template may
            # open with a brace too
            if _looks_like_artifact(scan_.path):
                return "artifact"
            if _looks_like_selection_summary(scan_.path):
                return "selection"
            return "templates" if "{persona}" in stripped else None
        if not isinstance(obj, dict):
            return None
        if "results" in obj:
            return "artifact"
        if "selection_score" in obj or "n_selected" in obj:
            return "selection"
        if {"pos_response", "neg_response"} & obj.keys() or {"template", "persona_pair", "prompt"} <= obj.keys():
            return "examples"
        if "template" in obj and ({"n", "strict_pass_rate", "mean_axis_delta", "score_mean"} & obj.keys()):
            return "stats"
        if {"pos", "neg"} <= obj.keys() or {"pos_descriptor", "neg_descriptor"} <= obj.keys():
            return "pairs"
        if {"prompt", "question", "text"} & obj.keys():
            return "scenarios"
        return None
    if "{persona}" in stripped:
        return "templates"
    if is_stats_header(stripped):
        return "stats"
    return None


def is_stats_header(line: str) -> bool:
    """A CSV header naming a template and a stats column: upstream's stats CSVs (ingest/csv_stats.py)."""
    try:
        names = set(next(csv.reader([line.strip()]), []))
    except csv.Error:  # not CSV at all (e.g. one huge unquoted field)
        return False
    return "template" in names and bool(names & STATS_COLUMNS)


def is_csv(first_line: str | None) -> bool:
    """A stats file whose first line is not a JSON object is read as CSV."""
    return first_line is not None and not first_line.lstrip().startswith("{")


def _looks_like_selection_summary(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(1 << 16).decode("utf-8", errors="replace")
    return '"n_selected"' in head


def _parses(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except (json.JSONDecodeError, RecursionError):
        return False


def _looks_like_artifact(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(1 << 16).decode("utf-8", errors="replace")
    return '"results"' in head


def blank_lines(path: Path) -> int:
    """How many lines are blank or whitespace only (skipped by every line reader; the report counts them)."""
    with path.open("rb") as handle:
        return sum(1 for raw in handle if not raw.removeprefix(BOM).strip())


def line_batches(path: Path, bad_lines: set[int]) -> Iterator[pa.Table]:
    """(line_no, line) for each non-blank line not in bad_lines, in Arrow batches."""
    import pyarrow as pa  # only a file DuckDB's reader refused comes this way

    numbers: list[int] = []
    lines: list[str] = []
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if line_no in bad_lines or not raw.strip():
                continue
            numbers.append(line_no)
            lines.append(raw.removeprefix(BOM if line_no == 1 else b"").decode("utf-8").rstrip("\r\n"))
            if len(lines) >= BATCH_LINES:
                yield pa.table({"line_no": pa.array(numbers, pa.int32()), "line": pa.array(lines, pa.large_string())})
                numbers, lines = [], []
    if lines:
        yield pa.table({"line_no": pa.array(numbers, pa.int32()), "line": pa.array(lines, pa.large_string())})
