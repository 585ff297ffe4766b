"""`psw export-stats` writes upstream's stats files from the marts: the same keys, key order and
rounding as upstream's export_persona_template_stats.py. Checked key for key against the files the
measurement came with: the reference pilot (v2) and a hand-written v3 export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from psw.cli import main
from tests.conftest import REFERENCE

from tests.hf.conftest import FAILED, RECORDS

ROUNDING = 0.5e-4 + 1e-9          # upstream rounds means and rates to 4 dp
# ... and its examples file carries word_delta_frac at 3 dp, so a mean of it is exact to 0.5e-3 only
INPUT_ROUNDING = {"mean_abs_word_delta_frac": 0.5e-3 + ROUNDING}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open() if line.strip()]


def same(ours, theirs, key: str = "") -> bool:
    if isinstance(theirs, bool) or isinstance(ours, bool):
        return ours == theirs
    if isinstance(theirs, (int, float)) and isinstance(ours, (int, float)):
        return abs(ours - theirs) <= INPUT_ROUNDING.get(key, ROUNDING)
    return ours == theirs


def assert_key_for_key(ours: list[dict], theirs: list[dict], group: tuple[str, ...], underivable=()) -> None:
    by_key = {tuple(r[k] for k in group): r for r in ours}
    assert len(ours) == len(theirs) and len(by_key) == len(ours)
    for row in theirs:
        mine = by_key[tuple(row[k] for k in group)]
        assert list(mine) == list(row)                                 # the keys, in upstream's order
        differs = {k: (mine[k], row[k]) for k in row if k not in underivable and not same(mine[k], row[k], k)}
        assert differs == {}, (row["template"], differs)
        assert all(mine[k] is None for k in underivable)
    # rows in upstream's order: its sort keys never increase
    keys = [(r["recommended"], r["strict_pass_rate"], r["mean_axis_delta"], -r["mean_off_axis_problem"],
             -r["mean_max_style_abs_delta"]) for r in ours]
    assert keys == sorted(keys, reverse=True)


@pytest.fixture(scope="module")
def pilot_stats(pilot_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("stats") / "out"
    assert main(["--db", str(pilot_db), "export-stats", "--out", str(out)]) == 0
    return out


def test_the_pilot_exports_its_published_stats_key_for_key(pilot_stats):
    # a v2 export carries no pairwise ratings: those two means are not derivable (published_comparison too)
    v2_underivable = ("mean_pairwise_positive_delta", "mean_pairwise_negative_delta")
    for name, group in [("template_pair_stats", ("template", "persona_pair")), ("template_stats", ("template",))]:
        ours = read_jsonl(pilot_stats / f"v2_pilot_seed23_{name}.jsonl")
        theirs = read_jsonl(REFERENCE / f"v2_pilot_seed23_{name}.jsonl")
        assert_key_for_key(ours, theirs, group, v2_underivable)


def test_the_pilot_examples_come_back_record_for_record(pilot_stats):
    ours = read_jsonl(pilot_stats / "v2_pilot_seed23_examples.jsonl")
    theirs = read_jsonl(REFERENCE / "v2_pilot_seed23_examples.jsonl")
    assert len(ours) == len(theirs) == 64
    for mine, row in zip(ours, theirs):
        assert list(mine) == list(row)
        assert {k: (mine[k], row[k]) for k in row if not same(mine[k], row[k])} == {}


def test_the_csv_is_upstreams_sorted_columns_with_json_lists(pilot_stats):
    rows = list(csv.DictReader((pilot_stats / "v2_pilot_seed23_template_pair_stats.csv").open()))
    header = list(rows[0])
    assert header == sorted(header) and len(rows) == 16
    assert json.loads(rows[0]["strict_pass_persona_pairs"]) == ["wellbeing_authority"]
    assert rows[0]["recommended"] == "True" and rows[0]["n"] == "4"


def test_a_v3_measurement_exports_its_source_stats_key_for_key(v3_built, tmp_path):
    db, stats = v3_built
    out = tmp_path / "out"
    assert main(["--db", str(db), "export-stats", "--out", str(out), "--measurement", "v3_run"]) == 0
    for name, group in [("template_pair_stats", ("template", "persona_pair")), ("template_stats", ("template",))]:
        assert_key_for_key(read_jsonl(out / f"v3_run_{name}.jsonl"), read_jsonl(stats[name]), group)
    examples = read_jsonl(out / "v3_run_examples.jsonl")
    for mine, row in zip(examples, RECORDS + [FAILED]):
        assert list(mine) == list(row)
        assert {k: (mine[k], row[k]) for k in row if not same(mine[k], row[k])} == {}


def test_a_secret_or_an_unknown_measurement_writes_nothing(v3_built, tmp_path, capsys):
    db, _ = v3_built
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["--db", str(db), "export-stats", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "leaky_examples.jsonl line 1: holds a API key" in err and len(err.strip().splitlines()) == 1
    assert main(["--db", str(db), "export-stats", "--out", str(out), "--measurement", "nope"]) == 2
    assert "--measurement nope: no such measurement" in capsys.readouterr().err
    assert not out.exists()
