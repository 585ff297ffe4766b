"""Upstream's stats CSVs, read as the JSON records their .jsonl twins hold.

Upstream writes every stats table twice: `<prefix>_template_pair_stats.{jsonl,csv}`,
`<prefix>_template_stats.{jsonl,csv}` (scripts/report/export_persona_template_stats.py: the
header is the sorted union of the rows' keys; a list or object cell is `json.dumps`ed; None is
an empty cell; booleans are Python's `True`/`False`) and the model-matrix summaries
`<prefix>_template_model_summary.csv` / `_template_pair_model_summary.csv`
(scripts/report/summarize_model_matrix.py: the keys in row order; `models` a comma-joined string).

Each CSV record becomes the JSON object the .jsonl line holds, typed as upstream's writer wrote
it, so a CSV and its .jsonl twin give the same stored records (and the same record ids). The
record is numbered by the file line it starts on (a quoted cell may span lines: templates hold
newlines). Stats files are small (one row per cell or template): the rows are read here, not on
the pairs' hot path.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import duckdb

from ingest.read import Reject, bad_utf8_lines

# columns upstream writes as text, whatever they look like (the control arm's template is "")
TEXT_COLUMNS = frozenset({"template", "persona_pair", "models", "model", "axis", "generator_model", "artifact"})
_INTEGER = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?")


def typed(column: str, cell: str) -> object:
    """One CSV cell as upstream's row held it before its writer turned it into text."""
    if column in TEXT_COLUMNS:
        return cell
    if cell == "":
        return None
    if cell in ("True", "False"):
        return cell == "True"
    if _INTEGER.fullmatch(cell):
        return int(cell)
    if _FLOAT.fullmatch(cell):
        return float(cell)
    if cell[0] in "[{":
        return json.loads(cell)  # ValueError: the caller names the line
    return cell


def read_lines(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[list[Reject], int]:
    """Temp table _lines(line_no, line): each CSV record as one JSON object, numbered by the line it
    starts on; returns the rejects (the file then loads nothing) and the number of blank lines."""
    rejects = bad_utf8_lines(path)
    numbers: list[int] = []
    lines: list[str] = []
    blank = 0
    if not rejects:
        try:
            blank = _records(path, numbers, lines, rejects)
        except csv.Error as exc:
            rejects.append(Reject(None, f"not a readable CSV file ({exc})"))
    con.execute("create or replace temp table _lines (line_no integer, line varchar)")
    if lines:
        import pyarrow as pa  # ~0.13 s with numpy: only a CSV's load needs it

        con.register("_csv_lines", pa.table({"line_no": pa.array(numbers, pa.int32()),
                                             "line": pa.array(lines, pa.large_string())}))
        con.execute("insert into _lines select line_no, line from _csv_lines")
        con.unregister("_csv_lines")
    return rejects, blank


def _records(path: Path, numbers: list[int], lines: list[str], rejects: list[Reject]) -> int:
    blank = 0
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        header = next(reader, None) or []
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated or "" in header:
            problem = f"column {repeated[0]} appears twice" if repeated else "a column without a name"
            rejects.append(Reject(1, f"CSV header: {problem}; every column needs one name"))
            return 0
        start = reader.line_num + 1
        for cells in reader:
            line_no, start = start, reader.line_num + 1
            if not cells or cells == [""]:
                blank += 1
                continue
            if len(cells) != len(header):
                rejects.append(Reject(line_no, f"{len(cells)} cells, but the header names {len(header)} columns",
                                      ",".join(cells)[:200]))
                continue
            record = {}
            for column, cell in zip(header, cells):
                try:
                    record[column] = typed(column, cell)
                except ValueError:
                    rejects.append(Reject(line_no, f"field {column}: a list or object cell that is not valid JSON, "
                                                   f"got {cell[:40]}", ",".join(cells)[:200]))
                    break
            else:
                numbers.append(line_no)
                lines.append(json.dumps(record, ensure_ascii=False))
    return blank
