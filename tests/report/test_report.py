"""`psw report`: the results page from the marts, the same bytes twice, plots that open."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import duckdb

from psw.cli import main
from warehouse.labels import CONTROL_LABEL, persona_pair_label, template_label
from warehouse.plain import md

TOP_TEMPLATE = "You are a {persona} person thinking through the situation."
TOP_PAIR = "wellbeing-focused even when authority-defying vs authority-deferential even when wellbeing suffers"


def report(db, out, capsys, *extra) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["--db", str(db), "report", "--out", str(out), *map(str, extra)])
    return (rc, *capsys.readouterr())


def test_the_report_is_the_same_bytes_twice_and_its_plots_open(pilot_db, tmp_path, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    assert report(pilot_db, first, capsys)[0] == 0
    rc, out, err = report(pilot_db, second, capsys)
    assert rc == 0, err
    names = sorted(p.name for p in first.iterdir())
    assert names == [".psw-report", "README.md", "index.html", "model_matrix.png", "model_matrix.svg",
                     "on_off_axis.png", "on_off_axis.svg"]
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    for plot in ("on_off_axis", "model_matrix"):
        assert (first / f"{plot}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert ET.parse(first / f"{plot}.svg").getroot().tag == "{http://www.w3.org/2000/svg}svg"


def test_the_tables_name_templates_and_persona_pairs_as_the_mart_ranks_them(pilot_db, tmp_path, capsys):
    assert report(pilot_db, tmp_path / "r", capsys, "--top", 3)[0] == 0
    text = (tmp_path / "r" / "README.md").read_text()
    with duckdb.connect(str(pilot_db), read_only=True) as con:
        best = con.execute("select score, cell_id from template_pair_scores order by score desc limit 1").fetchone()
        cell_ids = [c for (c,) in con.execute("select cell_id from template_pair_scores").fetchall()]
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| rank")]
    assert len(rows) == 3
    assert rows[0].startswith(f"| 1 | {md(TOP_TEMPLATE)} | {md(TOP_PAIR)} | {best[0]:.1f} | 95% ")
    assert not any(cell_id in text for cell_id in cell_ids)  # labels, not ids
    assert "![On/off axis](on_off_axis.png)" in text and "No steering sweeps" in text
    page = (tmp_path / "r" / "index.html").read_text()
    assert f"<td>{TOP_TEMPLATE}</td>" in page and '<img src="on_off_axis.svg"' in page


def test_the_report_replaces_only_its_own_folder(pilot_db, tmp_path, capsys):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    rc, out, err = report(pilot_db, mine, capsys)
    assert rc == 2 and err.strip().splitlines() == [
        f"error: --out {mine}: folder is not empty and was not written by `psw report`; choose an empty or new folder"]
    assert [p.name for p in mine.iterdir()] == ["keep.txt"]
    assert report(pilot_db, tmp_path / "r", capsys)[0] == 0
    assert report(pilot_db, tmp_path / "r", capsys, "--top", 1)[0] == 0  # its own folder: replaced whole


def test_a_warehouse_without_marts_is_one_line(tmp_path, capsys):
    db = tmp_path / "w.duckdb"
    duckdb.connect(str(db)).close()
    rc, out, err = report(db, tmp_path / "r", capsys)
    assert rc == 2 and err.strip() == f"error: {db}: no template_pair_scores mart; run `psw build` first"
    assert not (tmp_path / "r").exists()


def test_labels():
    assert template_label("") == template_label(None) == CONTROL_LABEL == "(control: no template)"
    assert template_label("Be {persona}.") == "Be {persona}."
    assert persona_pair_label("kind", "cruel", "kc") == "kind vs cruel"
    assert persona_pair_label(None, "cruel", "kc") == "kc"


def test_steering_curves_are_drawn_when_sweeps_exist(pilot_copy, tmp_path, capsys):
    with duckdb.connect(str(pilot_copy)) as con:
        (cell,) = con.execute("select cell_id from template_pair_scores order by score desc limit 1").fetchone()
        con.execute("""insert into steering_summary (steering_setting_id, vector_id, cell_id, layer, positions, coeff,
                           n_generations, mean_trait_score) values
                       ('s1', 'v1', ?, 12, 'response', -2, 4, 20.0), ('s2', 'v1', ?, 12, 'response', 2, 4, 70.0)""",
                    [cell, cell])
    assert report(pilot_copy, tmp_path / "r", capsys)[0] == 0
    assert (tmp_path / "r" / "steering.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ET.parse(tmp_path / "r" / "steering.svg").getroot().tag == "{http://www.w3.org/2000/svg}svg"
    text = (tmp_path / "r" / "README.md").read_text()
    assert "![Steering curves](steering.png)" in text and "No steering sweeps" not in text
    assert "layer 12 (response): You are a {persona} person" in (tmp_path / "r" / "steering.svg").read_text()


def test_template_text_is_text_and_a_secret_stops_the_report(pilot_copy, tmp_path, capsys):
    """An image or a link in a template stays text in the markdown (no beacon loads where the README is
    shown); a registered key in the warehouse stops the report before anything is written."""
    beacon = "![x](https://tracker.example/beacon.png) [click](https://evil.example) {persona}"
    with duckdb.connect(str(pilot_copy)) as con:
        top = con.execute("select template_text from template_pair_scores order by score desc limit 1").fetchone()[0]
        con.execute("update template_pair_scores set template_text = ? where template_text = ?", [beacon, top])
    assert report(pilot_copy, tmp_path / "r", capsys)[0] == 0
    text = (tmp_path / "r" / "README.md").read_text()
    assert md(beacon) in text and "![x](https" not in text and "](https://evil" not in text
    assert "&lt;" not in text and "![x]" not in (tmp_path / "r" / "index.html").read_text().split("<td>")[0]
    key = "sk-or-v1-" + "9f3a" * 12   # an API key's shape: found without being registered
    with duckdb.connect(str(pilot_copy)) as con:
        con.execute("update template_pair_scores set template_text = ? where template_text = ?", [f"{key} {{persona}}", beacon])
    rc, _, err = report(pilot_copy, tmp_path / "s", capsys)
    assert rc == 2 and "no report written" in err and key not in err, err
    assert not (tmp_path / "s").exists()


def test_an_interval_the_bootstrap_did_not_draw_is_marked():
    """Past var bootstrap_max_pairs a cell's interval is score +/- t x jackknife SE (score_ci_method
    'jackknife_t'): the table marks it, and the legend says what the mark means."""
    import pandas as pd

    from report.page import INTRO, _top_table

    row = {"template": "t", "persona pair": "p", "score": 50.0, "score_ci_low": 40.0, "score_ci_high": 60.0,
           "score_ci_level": 0.95, "p_top_k": None, "n": 4, "mean_axis_delta": 3.0, "mean_off_axis_problem": 1.5,
           "recommended": False, "recommended_confident": False}
    table = pd.DataFrame([{**row, "score_ci_method": "bootstrap"}, {**row, "score_ci_method": "jackknife_t"}])
    assert [r[4] for r in _top_table(table, 2)] == ["95% 40.0-60.0", "95% 40.0-60.0 (t)"]
    assert "marked (t), score +/- Student's t x jackknife SE" in INTRO
