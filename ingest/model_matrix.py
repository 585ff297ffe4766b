"""Upstream's model matrix on disk: which generator a per-model stats file describes.

upstream writes one `*_template_pair_stats.jsonl` per generator model under
`data/results/model_matrix/stats/`, named `<run>_<org>_<model>_template_pair_stats.jsonl`
(the generator's `org/model` with the slash as `_`, as its summaries' `models` column spells
it), plus `<run>_template_model_summary.{jsonl,csv}` and `<run>_template_pair_model_summary.{jsonl,csv}`
beside the folder. `psw ingest --generator-model M` names the generator of any stats file.
"""

from __future__ import annotations

import re
from pathlib import Path

MODEL_MATRIX_STATS = re.compile(r"_([^_]+_[^_]+)_template_pair_stats$")


def stats_generator(path: Path) -> str | None:
    """The generator of a per-model stats file, from its name (upstream's model-matrix layout)."""
    if path.parent.name != "stats" or path.parent.parent.name != "model_matrix":
        return None
    match = MODEL_MATRIX_STATS.search(path.stem)
    return match.group(1) if match else None
