"""HF export/import tests never contact the Hub: datasets and huggingface_hub run offline."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

CACHE = tempfile.mkdtemp(prefix="psw-hf-datasets-cache-")
atexit.register(shutil.rmtree, CACHE, ignore_errors=True)  # each run (and xdist worker) left one in /tmp
os.environ.setdefault("HF_DATASETS_CACHE", CACHE)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import pytest  # noqa: E402

from tests.conftest import Psw  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from tests.core.test_v3_export import FAILED, RECORDS, upstream_stats  # noqa: E402

# upstream's v3 stats keys after the group keys, in its export script's order (style and off-axis
# means follow, each sorted by dimension, then `recommended`)
V3_ORDER = ["n", "strict_pass_rate", "n_strict_pass", "mean_axis_delta", "mean_axis_delta_judge_mean",
            "mean_axis_delta_judge_std", "mean_axis_judge_abs_disagreement", "mean_positive_delta",
            "mean_negative_delta", "mean_pairwise_positive_delta", "mean_pairwise_negative_delta",
            "mean_off_axis_problem", "mean_max_off_axis_category_likert", "usable_rate", "mean_max_style_abs_delta",
            "mean_abs_word_delta_frac", "mean_response_token_jaccard", "mean_pos_repeated_token_frac",
            "mean_neg_repeated_token_frac", "persona_echo_rate", "judge_persona_echo_rate", "refusal_or_ai_break_rate",
            "judge_refusal_or_ai_break_rate", "strict_pass_persona_pairs", "common_spurious_axes"]


def in_upstream_order(row: dict, group: tuple[str, ...]) -> dict:
    """tests/core's reader names the mean of axis_judge_mean_abs_disagreement as the mart does; upstream's
    script writes it as mean_axis_judge_abs_disagreement (and has no order-disagreement mean)."""
    row = {**row, "mean_axis_judge_abs_disagreement": row["mean_axis_judge_mean_abs_disagreement"]}
    style = sorted(k for k in row if k.startswith("mean_style_delta_"))
    off = sorted(k for k in row if k.startswith("mean_off_axis_") and k != "mean_off_axis_problem")
    return {k: row[k] for k in [*group, *V3_ORDER, *style, *off, "recommended"]}


@pytest.fixture(scope="session", autouse=True)
def _drop_datasets_cache():
    yield
    shutil.rmtree(CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def pilot_export(pilot_db, tmp_path_factory):
    """One export of the reference pilot warehouse, shared by the read-only tests."""
    from psw.cli import main

    out = tmp_path_factory.mktemp("export") / "library"
    assert main(["--db", str(pilot_db), "export-hf", "--out", str(out)]) == 0
    return out


@pytest.fixture
def run_psw(capsys):
    """run_psw(db, *args) -> (rc, out, err) against any warehouse file."""
    def run(db, *args):
        return Psw(db, capsys)(*args)
    return run


@pytest.fixture(scope="session")
def v3_files(tmp_path_factory) -> tuple[list[Path], dict[str, Path]]:
    """The v3 export of tests/core/test_v3_export.py with the stats files upstream's script writes for it
    (its keys in its order), and a second measurement whose completion holds an API key:
    (every file, in ingest order; the stats files by name)."""
    folder = tmp_path_factory.mktemp("v3stats")
    examples = folder / "v3_run_examples.jsonl"
    examples.write_text("".join(json.dumps(r) + "\n" for r in RECORDS + [FAILED]))
    leaky = folder / "leaky_examples.jsonl"
    leaky.write_text(json.dumps({**RECORDS[0], "pos_response": "my key is sk-" + "a1" * 16}) + "\n")
    stats = {}
    for name, group in [("template_stats", ("template",)), ("template_pair_stats", ("template", "persona_pair"))]:
        rows = [in_upstream_order(r, group) for r in upstream_stats(RECORDS + [FAILED], group)]
        rows.sort(key=lambda r: (r["recommended"], r["strict_pass_rate"], r["mean_axis_delta"],
                                 -r["mean_off_axis_problem"], -r["mean_max_style_abs_delta"]), reverse=True)
        stats[name] = folder / f"v3_run_{name}.jsonl"
        stats[name].write_text("".join(json.dumps(r) + "\n" for r in rows))
    return [examples, leaky, *stats.values()], stats


@pytest.fixture(scope="session")
def v3_built(v3_files, tmp_path_factory):
    """v3_files ingested and built, once per run (tests.conftest.built_per_run): (this worker's copy, the
    stats files by name)."""
    from psw.cli import main
    from tests.conftest import built_per_run

    files, stats = v3_files

    def fill(db):
        assert main(["--db", str(db), "ingest", *map(str, files)]) == 0
        assert main(["--db", str(db), "build"]) == 0

    return built_per_run(tmp_path_factory, "v3", fill), stats
