"""The Reproduce page: published numbers beside ours, and what to run when there are none."""

from __future__ import annotations

import json

from tests.conftest import REFERENCE, Psw


def test_without_published_stats_it_says_what_to_run(app, pilot_db):
    at = app(pilot_db, "views/reproduce.py")
    assert any("No published stats loaded" in info.value for info in at.info)


def test_it_shows_the_pilot_reproduced_and_a_doctored_number_flagged(app, pilot_copy, tmp_path, capsys):
    psw = Psw(pilot_copy, capsys)
    stats = REFERENCE / "v2_pilot_seed23_template_pair_stats.jsonl"
    assert psw("ingest", stats)[0] == 0 and psw("build")[0] == 0
    at = app(pilot_copy, "views/reproduce.py")
    assert list(at.dataframe[0].value["measurement_id"]) == ["v2_pilot_seed23"]
    assert any("Every published number of v2_pilot_seed23 is reproduced" in s.value for s in at.success)

    doctored = [json.loads(line) for line in stats.open()]
    doctored[3]["strict_pass_rate"] = round(doctored[3]["strict_pass_rate"] + 0.25, 4)
    colleague = tmp_path / "colleague_template_pair_stats.jsonl"
    colleague.write_text("".join(json.dumps(r) + "\n" for r in doctored))
    assert psw("ingest", colleague, "--measurement", "v2_pilot_seed23")[0] == 0 and psw("build")[0] == 0
    at = app(pilot_copy, "views/reproduce.py")
    flagged = at.dataframe[1].value
    assert list(flagged["column_name"]) == ["strict_pass_rate"] and list(flagged["status"]) == ["differs"]
    assert flagged["difference"].iloc[0] == -0.25
