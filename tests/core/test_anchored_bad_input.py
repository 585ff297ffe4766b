"""Bad anchored input (issue 27): an anchored artifact result, run setting, bounded-thinking record or
examples record that breaks upstream's shape is refused in one line naming the file and the field;
nothing of the file loads."""

from __future__ import annotations

import json

import duckdb
import pytest

import anchored_fixture as fx
from test_inspect_log import refused


@pytest.mark.parametrize("change, reason", [
    (lambda r: r.pop("base_response"), "results[0]: field base_response: expected a non-empty string"),
    (lambda r: r.update(overall_score=12.0), "results[0]: field overall_score: expected a number in -31..8"),
    (lambda r: r.update(axis_judge_method="vibes"), "results[0]: field axis_judge_method: expected one of json, bounded_thinking"),
    (lambda r: r["axis_judgments"][0]["pos_base_forward_judgment"].update(A_more_target_than_B=5.5),
     "results[0]: axis_judgments[0].pos_base_forward_judgment: field A_more_target_than_B: 5.5 is out of range"),
    (lambda r: r["axis_judgments"][1].pop("neg_base_forward_judgment"),
     "results[0]: axis_judgments[1]: missing required field neg_base_forward_judgment"),
])
def test_bad_anchored_artifact_results_are_refused_with_where(psw, tmp_path, change, reason):
    doc = fx.artifact()
    change(doc["results"][0])
    path = fx.write(tmp_path / "bad_run.json", doc)
    err = refused(psw, path)
    assert f"{path}: {reason}" in err, err


def test_bad_anchored_run_settings_are_refused(psw, tmp_path):
    doc = fx.artifact()
    doc["exclude_confound_dims"] = "honesty_truthfulness"
    path = fx.write(tmp_path / "bad_settings.json", doc)
    assert "field exclude_confound_dims: expected a list of non-empty strings" in refused(psw, path)


def test_a_bounded_record_that_contradicts_itself_is_refused(psw, tmp_path):
    doc = fx.artifact()
    doc["results"][1]["axis_judgments"][0]["pos_base_forward_judgment"]["found"] = True   # found_rate is 0
    path = fx.write(tmp_path / "bad_bounded.json", doc)
    assert "results[1]: axis_judgments[0].pos_base_forward_judgment: field found: True disagrees with found_rate 0.0" \
        in refused(psw, path)


def test_an_anchored_export_without_side_deltas_needs_the_guides(psw, tmp_path):
    record = fx.example(fx.artifact()["results"][0])
    path = tmp_path / "bad_examples.jsonl"
    good = json.dumps(record)
    del record["delta_pos_vs_base"]
    path.write_text(good + "\n" + json.dumps(record) + "\n")
    err = refused(psw, path)
    assert f"{path}:2: missing required field positive_delta" in err and f"{path}:1" not in err


def _guide_examples(tmp_path):
    """Five guide-protocol pairs of the reference pilot (v2 examples: no side deltas)."""
    from tests.conftest import REFERENCE

    lines = (REFERENCE / "v2_pilot_seed23_examples.jsonl").read_text(encoding="utf-8").splitlines()[:5]
    path = tmp_path / "guide_examples.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _anchored_examples(tmp_path):
    path = tmp_path / "anchored_examples.jsonl"
    path.write_text("".join(json.dumps(fx.example(r)) + "\n" for r in fx.artifact()["results"]))
    return path


@pytest.mark.parametrize("first, second", [("anchored artifact", "guide examples"),
                                           ("guide examples", "anchored artifact"),
                                           ("guide examples", "anchored examples")])
def test_one_measurement_holds_one_protocol(psw, tmp_path, first, second):
    """A guide load into an anchored measurement (or the reverse) would have its pairs relabelled by
    the measurement's protocol: it is refused naming both loads, and the held load stays as it was."""
    files = {"anchored artifact": lambda: fx.write(tmp_path / "run.json"),
             "guide examples": lambda: _guide_examples(tmp_path),
             "anchored examples": lambda: _anchored_examples(tmp_path)}
    held, new = files[first](), files[second]()
    assert psw("ingest", "--measurement", "m", held)[0] == 0
    with duckdb.connect(str(psw.db), read_only=True) as con:
        before = con.execute("select (select count(*) from raw.pairs), (select count(*) from raw.exported_pairs), "
                             "(select count(*) from raw.loads)").fetchone()
    rc, out, err = psw("ingest", "--measurement", "m", new)
    mine, theirs = second.split()[0], first.split()[0]
    assert rc == 2 and not out
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"{new}: measurement m: this load (") and \
        f"was judged under the {mine} protocol, but load " in lines[0] and f"({held}) under the {theirs} protocol" in lines[0]
    assert "psw forget --load " in lines[0]
    assert lines[1] == f"error: {new}: refused as a whole (above); nothing loaded from this file"
    with duckdb.connect(str(psw.db), read_only=True) as con:
        assert con.execute("select (select count(*) from raw.pairs), (select count(*) from raw.exported_pairs), "
                           "(select count(*) from raw.loads)").fetchone() == before
    assert psw("ingest", "--measurement", "m2", new)[0] == 0   # as its own measurement it loads
