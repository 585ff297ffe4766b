"""`psw collect --scenario-source NAME` (repeatable) measures the scenarios of those sources only."""

from __future__ import annotations

import json

from psw.cli import main

PAIRS = [{"id": "kind_cruel", "pos": "kind", "neg": "cruel", "positive_behavior": "helps", "negative_behavior": "hurts"}]
SCENARIOS = [{"id": "a1", "prompt": "A friend is late again.", "source": "daily"},
             {"id": "a2", "prompt": "A stranger drops a wallet.", "source": "daily"},
             {"id": "b1", "prompt": "A model is asked to lie.", "source": "airisk", "axes": ["honesty"],
              "foundation": "care", "pov": "second", "frame": "dilemma"},
             {"id": "c1", "prompt": "You find a bug in a rival's code.", "source": "ethics"}]


def _files(tmp_path):
    paths = []
    for name, rows in (("pairs.jsonl", PAIRS), ("scenarios.jsonl", SCENARIOS)):
        path = tmp_path / name
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        paths.append(path)
    templates = tmp_path / "templates.txt"
    templates.write_text("You are a {persona} person.\n")
    return paths[0], templates, paths[1]


def _dry_run(tmp_path, capfd, *extra):
    pairs, templates, scenarios = _files(tmp_path)
    plan = tmp_path / "plan.jsonl"
    capfd.readouterr()
    rc = main(["--db", str(tmp_path / "w.duckdb"), "collect", "--pairs", str(pairs), "--templates", str(templates),
               "--scenarios", str(scenarios), "--generator", "g", "--judge", "j", "--n", "0", "--dry-run",
               "--plan-out", str(plan), *extra])
    err = capfd.readouterr().err
    rows = [json.loads(line) for line in plan.open()] if rc == 0 else []
    return rc, err, rows


def test_scenario_source_measures_a_subset(tmp_path, capfd):
    rc, err, rows = _dry_run(tmp_path, capfd, "--scenario-source", "daily", "--scenario-source", "ethics")
    assert rc == 0, err
    assert sorted({row["scenario_id"] for row in rows}) == ["a1", "a2", "c1"]


def test_an_unknown_scenario_source_is_one_line(tmp_path, capfd):
    rc, err, _ = _dry_run(tmp_path, capfd, "--scenario-source", "nope")
    assert rc == 2
    assert "--scenario-source: no scenario has source nope (sources: airisk, daily, ethics)" in err
    assert "Traceback" not in err
