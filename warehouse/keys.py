"""Stable keys for rows that Python writes (dbt derives the rest in SQL).

A pair is one cell x scenario x sample of one measurement; its key must be the
same whether the pair came from a run artifact or from `psw collect`, so that a
collected run and a re-ingested artifact of it land on the same rows.
"""

from __future__ import annotations

import hashlib


def _md5(*parts: object) -> str:
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.md5(joined.encode("utf-8")).hexdigest()


def pair_id(measurement_id: str, template_text: str, persona_pair_id: str,
            scenario_text: str, sample_idx: int = 0, *, scenario_id: str | None = None,
            source_run: str | None = None, row_idx: int | None = None) -> str:
    """The keyword parts name pairs that share the rest (a pooled export's runs and rows, two
    scenarios with the same text); left out, the key is what it was before they existed."""
    named = [f"{k}={v}" for k, v in (("scenario_id", scenario_id), ("source_run", source_run),
                                     ("row_idx", row_idx)) if v is not None]
    return "pr_" + _md5(measurement_id, template_text, persona_pair_id, scenario_text, sample_idx,
                        *named)[:20]


def judgment_id(pair: str, judge_model: str, prompt_hash: str, criterion: str,
                content: str) -> str:
    return "jd_" + _md5(pair, judge_model, prompt_hash, criterion, content)[:24]


def text_hash(text: str) -> str:
    """Hash of a prompt template or any text that must be recorded by value."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
