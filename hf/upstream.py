"""The upstream library's published HF layout: one `examples` split beside its stats splits.

Upstream publishes a single run as splits named `examples`, `template_stats` and
`template_pair_stats` (no measurement in the names). The examples become the measurement's
exported pairs; the stats splits become published numbers (raw.published_stats), so after
`psw build` the `published_comparison` mart says whether our marts reproduce them. The
measurement id is `--measurement`, else the source's own name (folder or repo name).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

STATS_SUFFIXES = ("template_pair_stats", "template_stats", "template_model_stats")


def measurement_for(source: str, measurement: str | None) -> str:
    return measurement or Path(source.rstrip("/")).name


def rename_examples(splits: dict, source: str, measurement: str | None) -> dict:
    """A bare `examples` split is named `<measurement>_examples`, as this project's exports name it."""
    if "examples" not in splits:
        return splits
    named = f"{measurement_for(source, measurement)}_examples"
    out = {k: v for k, v in splits.items() if k != "examples"}
    out[named] = dataclasses.replace(splits["examples"], name=named)
    return out


def stats_splits(splits: dict) -> dict:
    return {name: split for name, split in splits.items() if name.endswith(STATS_SUFFIXES)}


def stats_rows(split, measurement: str) -> list[dict]:
    """Published rows of one stats split, keyed like ingest keys a stats file's lines."""
    rows = []
    for line_no, row in enumerate(split.table.to_pylist(), start=1):
        record = {k: v for k, v in row.items() if v is not None}
        level = "template_pair" if record.get("persona_pair") else \
            "template_model" if "model_count" in record or "generator_model" in record else "template"
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
        rows.append({"record_id": hashlib.md5((measurement + text).encode()).hexdigest(), "line_no": line_no,
                     "measurement_id": measurement, "level": level, "record": text})
    return rows


def stats_measurement(name: str, source: str, measurement: str | None) -> str:
    """`<m>_template_pair_stats` names its measurement; a bare `template_pair_stats` is the source's."""
    for suffix in STATS_SUFFIXES:
        if name.endswith("_" + suffix):
            return name[: -len(suffix) - 1]
    return measurement_for(source, measurement)
