"""Read persona_vectors projection tables (CSV or JSONL) into one row per record x projection column.

A projection column is named `[<model>_]<trait>_<vector>_proj_layer<L>` with <vector> one of
response_avg_diff, prompt_avg_diff, prompt_last_diff, and L indexing hidden_states (L = 0 is the
embedding output): our layer is L + offset, offset -1 by default. The other fields of a record
(prompt and answer, and anything else) are kept beside each projection.
"""

from __future__ import annotations

import csv
import json
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from extract.imported_vectors import PERSONA_VECTOR_KINDS
from warehouse.errors import UserError

PROJECTION_COLUMN = re.compile(
    r"(?P<stem>.+)_(?P<kind>" + "|".join(PERSONA_VECTOR_KINDS) + r")_proj_layer(?P<layer>\d+)")
DEFAULT_OFFSET = -1


@dataclass(frozen=True)
class ProjectionColumn:
    name: str
    trait: str
    reduction: str
    source_layer: int


def is_projection_column(name: str) -> bool:
    return PROJECTION_COLUMN.fullmatch(name) is not None


def parse_column(name: str, trait: str | None, model_id: str | None) -> ProjectionColumn | None:
    """The column's trait, reduction and layer; None for a column that is not a projection.

    With --trait the stem must be the trait or end with `_<trait>` (a model-name prefix);
    without, a prefix equal to the model's last path part is dropped and the rest is the trait.
    """
    match = PROJECTION_COLUMN.fullmatch(name)
    if match is None:
        return None
    stem = match["stem"]
    if trait is not None:
        if stem != trait and not stem.endswith("_" + trait):
            raise UserError(f"column {name}: not a projection on --trait {trait}")
        found = trait
    else:
        prefix = (model_id or "").rstrip("/").split("/")[-1] + "_"
        found = stem[len(prefix):] if prefix != "_" and stem.startswith(prefix) and len(stem) > len(prefix) else stem
    return ProjectionColumn(name, found, PERSONA_VECTOR_KINDS[match["kind"]], int(match["layer"]))


def read_table(path: Path) -> tuple[str, list[tuple[int, dict]]]:
    """(source format, [(the record's first line, record)])."""
    if path.suffix.lower() == ".csv":
        return "persona_vectors_csv", list(_csv_records(path))
    return "persona_vectors_jsonl", list(_jsonl_records(path))


def _csv_records(path: Path) -> Iterator[tuple[int, dict]]:
    csv.field_size_limit(sys.maxsize)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            start = 2
            for record in reader:
                if None in record or any(value is None for value in record.values()):
                    raise UserError(f"{path}:{start}: {len(reader.fieldnames or [])} columns in the header, "
                                    "a different number here")
                yield start, record
                start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise UserError(f"{path}: not a readable CSV file ({exc})") from None


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict]]:
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise UserError(f"{path}:{line_no}: not valid UTF-8 (byte {exc.start + 1})") from None
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{line_no}: not JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise UserError(f"{path}:{line_no}: not a JSON object")
            yield line_no, record


def projection_value(path: Path, line_no: int, column: str, value) -> float:
    """The number in one cell; anything else (empty, text, NaN, inf) is refused."""
    if isinstance(value, bool):
        number = None
    elif isinstance(value, (int, float)):
        number = float(value)
    else:
        try:
            number = float(str(value).strip()) if str(value).strip() else None
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise UserError(f"{path}:{line_no}: column {column}: {str(value)[:40]!r} is not a finite number")
    return number
