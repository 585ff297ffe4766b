"""Bad anchored input (issue 27): an anchored artifact result, run setting, bounded-thinking record or
examples record that breaks upstream's shape is refused in one line naming the file and the field;
nothing of the file loads."""

from __future__ import annotations

import json

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
