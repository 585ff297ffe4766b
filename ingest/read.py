"""Read an input file once: hash it, check it is UTF-8 line by line, detect its kind.

Large JSONL files are streamed in batches of lines (Arrow arrays) so that
DuckDB, not Python, parses the JSON.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

KINDS = ("pairs", "templates", "scenarios", "examples", "artifact")
BATCH_LINES = 50_000


@dataclass
class Reject:
    line_no: int | None
    reason: str
    excerpt: str = ""


@dataclass
class FileScan:
    path: Path
    sha256: str
    n_lines: int
    kind: str | None
    first_line: str | None
    rejects: list[Reject] = field(default_factory=list)
    simple_lines: bool = True  # no blank lines and no \x01: DuckDB can read the lines itself


CHUNK = 1 << 23
BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]*\n")  # a blank line after the first (which is checked apart)


def scan(path: Path) -> FileScan:
    """One pass over the bytes in large chunks: sha256, UTF-8, line count, blank lines.

    Only a file with bad bytes is read again line by line, to name each bad line.
    """
    digest, decoder = hashlib.sha256(), codecs.getincrementaldecoder("utf-8")()
    n_newlines, valid, simple, tail, last = 0, True, True, b"", b""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            n_newlines += chunk.count(b"\n")
            last = chunk[-1:]
            if valid:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    valid = False
            if simple:
                block = tail + chunk
                simple = b"\x01" not in chunk and not BLANK_LINE.search(block)
                tail = block[block.rfind(b"\n") + 1:]
    if valid:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            valid = False
    n_lines = n_newlines + (1 if last not in (b"", b"\n") else 0)
    if (tail and not tail.strip()) or not _first_bytes(path).strip():
        simple = False
    if not valid:
        return _scan_lines(path, digest.hexdigest())
    return FileScan(path, digest.hexdigest(), n_lines, None, _first_line(path), [], simple)


def _first_bytes(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.readline()


def _first_line(path: Path) -> str | None:
    with path.open("rb") as handle:
        for raw in handle:
            if raw.strip():
                return raw.decode("utf-8")
    return None


def _scan_lines(path: Path, sha: str) -> FileScan:
    """The slow path for a file with bad bytes: name every line that is not UTF-8."""
    rejects: list[Reject] = []
    first_line = None
    n_lines = 0
    with path.open("rb") as handle:
        for n_lines, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                rejects.append(Reject(n_lines, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"))
                continue
            if first_line is None and text.strip():
                first_line = text
    return FileScan(path, sha, n_lines, None, first_line, rejects, False)


def detect_kind(scan_: FileScan) -> str | None:
    """Guess the kind from the first non-blank record; None when nothing fits."""
    first = scan_.first_line
    if first is None:
        return None
    stripped = first.strip()
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError:
            # a pretty-printed JSON document: only run artifacts come that way
            return "artifact" if _looks_like_artifact(scan_.path) else None
        if not isinstance(obj, dict):
            return None
        if "results" in obj:
            return "artifact"
        if {"pos_response", "neg_response"} & obj.keys() or {"template", "persona_pair", "prompt"} <= obj.keys():
            return "examples"
        if {"pos", "neg"} <= obj.keys():
            return "pairs"
        if {"prompt", "question", "text"} & obj.keys():
            return "scenarios"
        return None
    if "{persona}" in stripped:
        return "templates"
    return None


def _looks_like_artifact(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(1 << 16).decode("utf-8", errors="replace")
    return '"results"' in head


def line_batches(path: Path, bad_lines: set[int]) -> Iterator[pa.Table]:
    """(line_no, line) for each non-blank, decodable line, in Arrow batches."""
    numbers: list[int] = []
    lines: list[str] = []
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if line_no in bad_lines or not raw.strip():
                continue
            numbers.append(line_no)
            lines.append(raw.decode("utf-8").rstrip("\r\n"))
            if len(lines) >= BATCH_LINES:
                yield pa.table({"line_no": pa.array(numbers, pa.int32()), "line": pa.array(lines, pa.large_string())})
                numbers, lines = [], []
    if lines:
        yield pa.table({"line_no": pa.array(numbers, pa.int32()), "line": pa.array(lines, pa.large_string())})
