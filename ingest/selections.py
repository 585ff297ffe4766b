"""Upstream's scenario selections: `data/selections/<name>.jsonl` and `<name>_summary.json`.

A selection is a scenario pool chosen for one template and one axis (persona pair) on one
generator: stage A screens templates and pairs on a few scenarios, stage B keeps the winning
cell fixed, measures a larger pool and keeps the best scenarios of each source
(upstream's scripts/export_authority_steering_selection.py). The `.jsonl` lines are the kept
scenarios `{id, prompt, source, config, self_contained, selection_score, axis_delta,
off_axis_problem, strict_pass}`; they are NOT new scenarios and never enter raw.scenarios (the
scenario ids are upstream's, so the selection links to the scenarios that share them).
The summary is one JSON object: the axis, the template, the generator and judge, the stage
statistics (`stage_a`, `stage_b_summary`), `n_selected` and `source_counts` (an object
{source: n} or upstream's list [{source, n}]).

Both load into raw.selections (kind `selection`), keyed by the selection's name: the file name
without `.jsonl` or `_summary.json`. dbt (stg_raw__selections, selections,
selection_comparison) links them to their template and axis and checks the summary's counts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ingest.read import FileScan, Reject

SUMMARY_SUFFIX = "_summary"
# what a summary must say to be linked and compared; the rest is kept as published
SUMMARY_TEXT_FIELDS = ("template", "axis")


def selection_id(path: Path) -> str:
    """The selection's name: `<name>.jsonl` and `<name>_summary.json` share it."""
    return re.sub(f"{SUMMARY_SUFFIX}$", "", path.stem)


def is_summary(scan: FileScan) -> bool:
    """The summary is a JSON document (one object, usually indented); the pool is JSON Lines."""
    first = (scan.first_line or "").strip()
    return scan.path.stem.endswith(SUMMARY_SUFFIX) or first == "{" or '"n_selected"' in first


def summary_row(path: Path) -> tuple[dict | None, list[Reject]]:
    """The summary's one record, or the rejects (file:line) that refuse it."""
    try:
        text = path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        return None, [Reject(None, f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x})")]
    try:
        record = json.loads(text, object_pairs_hook=_refuse_repeats)
    except json.JSONDecodeError as exc:
        return None, [Reject(exc.lineno, f"invalid JSON: {exc.msg} at column {exc.colno}")]
    except ValueError as exc:
        return None, [Reject(None, str(exc))]
    except RecursionError:
        return None, [Reject(None, "invalid JSON: nested too deeply")]
    if not isinstance(record, dict):
        return None, [Reject(1, "a selection summary is one JSON object")]
    problem = _summary_problem(record)
    if problem:
        field, reason = problem
        return None, [Reject(_line_of(text, field), reason)]
    return record, []


def _refuse_repeats(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    repeated = [k for k in keys if keys.count(k) > 1]
    if repeated:
        raise ValueError(f'duplicate key "{repeated[0]}" in one object (parsers disagree on which value counts); '
                         f"keep one")
    return dict(pairs)


def _summary_problem(record: dict) -> tuple[str, str] | None:
    n = record.get("n_selected")
    if "n_selected" not in record:
        return "", "missing required field n_selected"
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        return "n_selected", f"field n_selected: expected a count (an integer >= 0), got {json.dumps(n)[:40]}"
    counts = record.get("source_counts")
    if counts is not None and source_counts(counts) is None:
        return "source_counts", ("field source_counts: expected {source: n} or a list of {source, n}, got "
                                 f"{json.dumps(counts)[:40]}")
    for field in SUMMARY_TEXT_FIELDS:
        value = record.get(field)
        if value is not None and not (isinstance(value, str) and (value.strip() or field == "template")):
            return field, f"field {field}: expected a string, got {json.dumps(value)[:40]}"
    return None


def source_counts(value: object) -> dict[str, int] | None:
    """upstream writes {source: n} or [{source, n}]; None when it is neither."""
    if isinstance(value, dict) and all(isinstance(n, int) and not isinstance(n, bool) for n in value.values()):
        return value
    if isinstance(value, list) and all(isinstance(item, dict) and isinstance(item.get("source"), str)
                                       and isinstance(item.get("n"), int) for item in value):
        return {item["source"]: item["n"] for item in value}
    return None


def _line_of(text: str, field: str) -> int:
    """The line that names `field` (the first line when it is missing)."""
    if field:
        at = text.find(f'"{field}"')
        if at >= 0:
            return text.count("\n", 0, at) + 1
    return 1
