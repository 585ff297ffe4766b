"""Write the results page: README.md and index.html (the same tables), and the plots beside them."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from hf.outdir import check_out, replace_folder
from hf.secret_scan import check_texts
from report import plots
from warehouse.db import UserError, connect
from warehouse.labels import persona_pair_label, template_label
from warehouse.plain import md

MARKER = ".psw-report"
COLUMNS = ["rank", "template", "persona pair", "score", "interval", "P(top k)", "n", "axis delta", "off-axis",
           "recommended"]
TEXT_COLUMNS = {"template", "persona pair"}   # user text: escaped as markdown; the rest are numbers psw formats

CELLS_SQL = """
select measurement_id, generator_model, judge_model, cell_id, template_text, persona_pair_id, pos_persona,
       neg_persona, score, score_ci_low, score_ci_high, score_ci_level, score_ci_method, p_top_k, n, mean_axis_delta,
       mean_off_axis_problem, recommended, recommended_confident
from template_pair_scores
where score is not null
order by measurement_id, score desc, cell_id
"""
MODEL_MATRIX_SQL = """
select template_text, unnest(map_keys(model_scores)) as model, unnest(map_values(model_scores)) as score
from template_model_scores
where basis = 'measured'
order by template_text, model
"""
STEERING_SQL = """
select coalesce(cells.template_text, '') as template_text, cells.persona_pair_id, cells.pos_persona,
       cells.neg_persona, steering.vector_id, steering.cell_id, steering.layer, steering.positions, steering.coeff,
       steering.mean_trait_score
from steering_summary as steering
left join template_pair_scores as cells using (cell_id)
where steering.mean_trait_score is not null
order by steering.vector_id, steering.layer, steering.positions, steering.coeff
"""


@dataclass
class Report:
    out: Path
    files: list[str] = field(default_factory=list)
    n_cells: int = 0
    n_measurements: int = 0

    def summary(self) -> str:
        return (f"report for {self.n_measurements} measurement(s), {self.n_cells} cells in {self.out}: "
                f"{', '.join(self.files)}")


def write_report(db: Path, out: Path, top: int = 5) -> Report:
    if top < 1:
        raise UserError(f"--top {top}: give at least 1")
    check_out(out, lambda folder: (folder / MARKER).exists(), "was not written by `psw report`")
    cells, matrix, curves = _read(db)
    if cells.empty:
        raise UserError(f"{db}: template_pair_scores has no scored cell; ingest a run and `psw build` first")
    cells["template"] = cells["template_text"].map(template_label)
    cells["persona pair"] = [persona_pair_label(p, n, i) for p, n, i in
                             zip(cells["pos_persona"], cells["neg_persona"], cells["persona_pair_id"])]
    report = Report(out, n_cells=len(cells), n_measurements=cells["measurement_id"].nunique())
    figures = {"on_off_axis": plots.on_off_axis(cells[["measurement_id", "mean_axis_delta", "mean_off_axis_problem",
                                                       "score"]].dropna())}
    if not matrix.empty:
        matrix["template"] = matrix["template_text"].map(template_label)
        figures["model_matrix"] = plots.model_matrix(matrix[["template", "model", "score"]])
    if not curves.empty:
        curves["curve"] = [_curve_label(row) for row in curves.itertuples()]
        figures["steering"] = plots.steering(curves[["curve", "coeff", "mean_trait_score"]])
    rendered = {name: plots.render(chart) for name, chart in figures.items()}
    tables = [(mid, group, _top_table(group, top)) for mid, group in cells.groupby("measurement_id", sort=True)]

    texts = {"README.md": _markdown(db, report, tables, rendered, top),
             "index.html": _html(db, report, tables, rendered, top),
             **{f"{name}.svg": svg.decode("utf-8", "replace") for name, (_, svg) in rendered.items()}}
    check_texts(texts, "no report written")   # the one scanner every psw output passes (hf/secret_scan.py)

    def fill(folder: Path) -> None:
        for name, (png, svg) in rendered.items():
            (folder / f"{name}.png").write_bytes(png)
            (folder / f"{name}.svg").write_bytes(svg)
        (folder / "README.md").write_text(texts["README.md"], encoding="utf-8")
        (folder / "index.html").write_text(texts["index.html"], encoding="utf-8")
        (folder / MARKER).write_text("written by `psw report`; `psw report --out` may replace this folder\n")

    report.files = ["README.md", "index.html", *(f"{name}.{ext}" for name in rendered for ext in ("png", "svg"))]
    replace_folder(out, fill)
    return report


def _read(db: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    with connect(db, read_only=True) as con:
        have = {name for (name,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'main'").fetchall()}
        if "template_pair_scores" not in have:
            raise UserError(f"{db}: no template_pair_scores mart; run `psw build` first")
        try:
            cells = con.execute(CELLS_SQL).df()
            matrix = con.execute(MODEL_MATRIX_SQL).df() if "template_model_scores" in have else pd.DataFrame()
            curves = con.execute(STEERING_SQL).df() if "steering_summary" in have else pd.DataFrame()
        except duckdb.Error as exc:
            raise UserError(f"{db}: the marts are not as this psw expects ({str(exc).splitlines()[0]}); "
                            "run `psw build`") from None
    return cells, matrix, curves


def _curve_label(row) -> str:
    if row.cell_id and isinstance(row.persona_pair_id, str):
        name = f"{template_label(row.template_text)} / {persona_pair_label(row.pos_persona, row.neg_persona, row.persona_pair_id)}"
    else:
        name = row.vector_id
    return f"layer {row.layer} ({row.positions}): {name}"


def _top_table(group: pd.DataFrame, top: int) -> list[list[str]]:
    rows = []
    for rank, (_, row) in enumerate(group.head(top).iterrows(), start=1):
        level = f"{row['score_ci_level']:.0%} " if pd.notna(row["score_ci_level"]) else ""
        # the mart's method: "t" marks score +/- t x jackknife SE (no bootstrap drawn: a measurement past
        # var bootstrap_max_pairs), which neither bounds the failed pairs nor gives P(top k)
        method = " (t)" if row["score_ci_method"] == "jackknife_t" else ""
        interval = (f"{level}{row['score_ci_low']:.1f}-{row['score_ci_high']:.1f}{method}"
                    if pd.notna(row["score_ci_low"]) else "n/a")
        rows.append([str(rank), row["template"], row["persona pair"], f"{row['score']:.1f}", interval,
                     _num(row["p_top_k"], 2), str(int(row["n"])), _num(row["mean_axis_delta"], 2),
                     _num(row["mean_off_axis_problem"], 2), _recommended(row)])
    return rows


def _recommended(row) -> str:
    """recommended_confident, and upstream's point rule where only it holds (see INTRO)."""
    if row["recommended_confident"]:
        return "yes"
    return "point only" if row["recommended"] else "no"


def _num(value, digits: int) -> str:
    return f"{value:.{digits}f}" if pd.notna(value) else "n/a"


def _about(group: pd.DataFrame) -> str:
    first = group.iloc[0]
    return f"generator {first['generator_model'] or 'n/a'}, judge {first['judge_model'] or 'n/a'}, {len(group)} cells"


INTRO = ("Top cells per measurement, from the `template_pair_scores` mart (score = the guide's clean-axis "
         "score, 0-100; interval = its bootstrap percentile interval, failed pairs at their worst and best, or, "
         "marked (t), score +/- Student's t x jackknife SE where the measurement is past the bootstrap's size cap; "
         "P(top k) = the share of the interval's replicates in which the cell is among its measurement's top k, "
         "k = dbt var top_k; axis delta -8..8; off-axis 1-7). Recommended = `recommended_confident`: upstream's "
         "point rule and a lower bound at or above the least score a recommended cell can have; \"point only\" "
         "= upstream's rule holds on the point estimates but the lower bound does not clear the bar.")
TITLES = {"on_off_axis": "On/off axis", "model_matrix": "Model matrix", "steering": "Steering curves"}


def _markdown(db: Path, report: Report, tables, rendered, top: int) -> str:
    def cell(text: str) -> str:   # data as text: an image or a link in a template stays text
        return md(" ".join(str(text).split()))

    lines = [f"# Results: {cell(db.name)}", "", f"{report.n_measurements} measurement(s), {report.n_cells} scored cells. "
             + INTRO, ""]
    for mid, group, rows in tables:
        lines += [f"## {cell(mid)}", "", f"{cell(_about(group))}; the top {min(top, len(group))}:", "",
                  "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(cell(v) if COLUMNS[i] in TEXT_COLUMNS else str(v) for i, v in enumerate(row))
                  + " |" for row in rows]
        lines.append("")
    for name in rendered:
        lines += [f"## {TITLES[name]}", "", f"![{TITLES[name]}]({name}.png)", "", f"[SVG]({name}.svg)", ""]
    if "steering" not in rendered:
        lines += ["## Steering curves", "", "No steering sweeps in this warehouse (`psw extract steer`, then "
                  "`psw build`).", ""]
    return "\n".join(lines)


def _html(db: Path, report: Report, tables, rendered, top: int) -> str:
    esc = html.escape
    parts = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>Results: {esc(db.name)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}</style>",
             "</head><body>", f"<h1>Results: {esc(db.name)}</h1>",
             f"<p>{report.n_measurements} measurement(s), {report.n_cells} scored cells. {esc(INTRO)}</p>"]
    for mid, group, rows in tables:
        parts += [f"<h2>{esc(mid)}</h2>", f"<p>{esc(_about(group))}; the top {min(top, len(group))}:</p>",
                  "<table>", "<tr>" + "".join(f"<th>{esc(c)}</th>" for c in COLUMNS) + "</tr>"]
        parts += ["<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in row) + "</tr>" for row in rows]
        parts.append("</table>")
    for name in rendered:
        parts += [f"<h2>{TITLES[name]}</h2>", f'<p><img src="{name}.svg" alt="{TITLES[name]}"></p>',
                  f'<p><a href="{name}.png">PNG</a></p>']
    if "steering" not in rendered:
        parts += ["<h2>Steering curves</h2>", "<p>No steering sweeps in this warehouse.</p>"]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
