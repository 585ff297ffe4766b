"""A control arm from another file links to its engineered arms (issue 24 part 6).

Upstream publishes its engineered baseline and its control baseline as separate exports: the
engineered pairs are named `x_engineered`, the control arm (template '') uses `x`. One rule
(int_control_arms.sql): the same base persona pair, and the same scenarios and generator when
the control is in another measurement. Written by hand in upstream's examples shape.
"""

from __future__ import annotations

import json

import duckdb

ENGINEERED = "__verbatim_skill_persona__"


def _pair(template, pair, scenario, axis_delta, off=1.0):
    return {"template": template, "persona_pair": pair, "scenario_id": scenario, "prompt": f"Scenario {scenario}?",
            "pos_persona": "a kind person", "neg_persona": "a cruel person", "pos_response": "I would help.",
            "neg_response": "I would not.", "axis_delta": axis_delta, "positive_delta": axis_delta / 2,
            "negative_delta": axis_delta / 2, "off_axis_problem": off, "max_style_abs_delta": 1.0,
            "usable_for_training": True, "persona_echo": False, "refusal_or_ai_break": False, "strict_pass": True}


def _write(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_score_vs_control_fills_across_files_by_base_pair_and_scenarios(psw, tmp_path):
    scenarios = ["s1", "s2", "s3", "s4"]
    engineered = _write(tmp_path / "engineered_baseline_seed24_examples.jsonl",
                        [_pair(ENGINEERED, "kind_engineered", s, 6.0) for s in scenarios])
    control = _write(tmp_path / "control_baseline_seed24_examples.jsonl",
                     [_pair("", "kind", s, 2.0) for s in scenarios])
    # a control on other scenarios is not this cell's control
    elsewhere = _write(tmp_path / "control_other_scenarios_examples.jsonl",
                       [_pair("", "kind", s, 0.0) for s in ("t1", "t2", "t3", "t4")])
    for path in (engineered, control, elsewhere):
        assert psw("ingest", path)[0] == 0
    assert psw("build")[0] == 0
    with duckdb.connect(str(psw.db), read_only=True) as con:
        got = con.execute("""
            select cells.measurement_id, controls.measurement_id, cells.axis_delta_vs_control,
                   cells.score_vs_control is not null
            from template_pair_scores as cells left join template_pair_scores as controls
                on controls.cell_id = cells.control_cell_id
            order by 1""").fetchall()
    assert got == [
        ("control_baseline_seed24", "control_baseline_seed24", 0.0, True),
        ("control_other_scenarios", "control_other_scenarios", 0.0, True),
        ("engineered_baseline_seed24", "control_baseline_seed24", 4.0, True),
    ]
