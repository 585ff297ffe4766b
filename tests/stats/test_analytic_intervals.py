"""The analytic cell score interval (int_cell_scores, score_ci_method 'jackknife_t': score +/- t x the
jackknife SE, the interval of a measurement past var bootstrap_max_pairs) against planted truth.

Seeded: for each kind of cell (planted.KINDS, true scores known) CELLS cells of n = 3, 4, 8 and 30
pairs are drawn and written as one examples file (each pair's judged values are the planted ones;
dbt's strict-pass gate is the planted gate). `psw build` with bootstrap_max_pairs 0 sends the whole
measurement down the analytic path, and the share of cells whose interval holds its kind's true
score is the coverage. What the simulation shows (printed; docs/statistics.md quotes it): at n = 30
the interval covers near its nominal 0.95; at n = 3-4 it does not (the jackknife SE of a product of
clamped 0/1 means is often 0: zero-width intervals), which is why the bootstrap stays the interval
wherever it fits. The bootstrap's own coverage is tests/stats/test_cell_intervals.py's."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest
from planted import KINDS, draw_pairs, true_score

from psw.cli import main

CELLS, SIZES, LEVEL = 150, (3, 4, 8, 30), 0.95
# the binomial sd of a coverage over CELLS cells at 0.95 is 0.018; over the 6 kinds pooled, 0.007
POOLED_TOLERANCE = 0.03


def example(kind: str, n: int, cell: int, row: int, pair: np.ndarray) -> dict:
    passed, axis, off, style, echo, refusal = pair
    negative = int(axis / 2)  # trunc: both halves stay within the judge's [-4, 4]
    return {"template": f"Planted {kind} n{n} c{cell}: be {{persona}}.", "persona_pair": "planted_pair",
            "pos_persona": "alpha", "neg_persona": "omega", "source": "synthetic", "config": "planted",
            "row": row, "prompt": f"Scenario {row}: what now?", "error": None, "strict_pass": bool(passed), "axis_delta": int(axis),
            "positive_delta": int(axis) - negative, "negative_delta": negative, "off_axis_problem": int(off),
            "usable_for_training": True, "likely_spurious_axis": "none", "max_style_abs_delta": int(style),
            "word_delta_frac": 0.0, "persona_echo": bool(echo), "refusal_or_ai_break": bool(refusal),
            "pos_response": "Yes, go ahead.", "neg_response": "No, wait here.",
            "style_delta_directness_pos_minus_neg": int(style), "style_delta_warmth_pos_minus_neg": 0}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(rows of template_pair_scores as (kind, n, low, high, method, score), each kind's true score)."""
    rng = np.random.default_rng(2022)
    folder = tmp_path_factory.mktemp("analytic")
    truths, planted_passes = {}, 0
    with (folder / "planted_examples.jsonl").open("w") as out:
        for kind, spec in KINDS.items():
            truths[kind] = true_score(spec, rng)
            for n in SIZES:
                pairs = draw_pairs(rng, spec, (CELLS, n))
                planted_passes += int(pairs[..., 0].sum())
                for cell in range(CELLS):
                    for row, pair in enumerate(pairs[cell]):
                        out.write(json.dumps(example(kind, n, cell, row, pair)) + "\n")
    db = folder / "warehouse.duckdb"
    assert main(["--db", str(db), "ingest", str(folder / "planted_examples.jsonl")]) == 0
    assert main(["--db", str(db), "build", "--select", "+template_pair_scores",
                 "--vars", "{bootstrap_max_pairs: 0}"]) == 0
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("select template_text, score_ci_low, score_ci_high, score_ci_method, score, score_ci_level, "
                       "n_bootstrap, p_top_k, n_strict_pass from template_pair_scores").fetchall()
    assert sum(row[-1] for row in rows) == planted_passes, "dbt's strict-pass gate is the planted one"
    assert {(row[3], row[5], row[6], row[7]) for row in rows} == {("jackknife_t", LEVEL, 0, None)}
    cells = [(text.split()[1], int(text.split()[2][1:]), low, high, score) for text, low, high, _, score, *_ in rows]
    return cells, truths


def coverage(cells, truths, n: int, kind: str | None = None) -> tuple[float, float]:
    """(share of the cells whose interval holds the true score, share of zero-width intervals)."""
    chosen = [c for c in cells if c[1] == n and (kind is None or c[0] == kind)]
    # the interval is rounded to 1 dp, as the true score is compared with it
    covered = [low - 0.05 <= round(truths[k], 1) <= high + 0.05 for k, _, low, high, _ in chosen]
    return float(np.mean(covered)), float(np.mean([high <= low for _, _, low, high, _ in chosen]))


def test_every_cell_has_an_interval_that_holds_its_score(built):
    cells, _ = built
    assert len(cells) == len(KINDS) * len(SIZES) * CELLS
    assert all(0 <= low <= score <= high <= 100 for _, _, low, high, score in cells)


@pytest.mark.parametrize("n", SIZES)
def test_coverage_of_the_analytic_interval(built, n):
    cells, truths = built
    pooled, zero_width = coverage(cells, truths, n)
    report = [f"n = {n}: pooled coverage {pooled:.3f} (nominal {LEVEL}), zero-width {zero_width:.3f}"]
    for kind in KINDS:
        covered, zero = coverage(cells, truths, n, kind)
        report.append(f"{kind} (true {truths[kind]:.1f}): coverage {covered:.3f}, zero-width {zero:.3f}")
    print("\n" + "\n  ".join(report))
    if n >= 30:
        # large enough for the t interval: pooled near the nominal level; a score near 0 (weak: a few
        # passes in 30) is skewed and still short of it (0.84 at this seed)
        assert pooled >= LEVEL - POOLED_TOLERANCE, report[0]
        assert all(coverage(cells, truths, n, kind)[0] >= 0.80 for kind in KINDS), report
    else:
        # small cells: the shortfall docs/statistics.md states, clear of the simulation's noise
        assert pooled < LEVEL - POOLED_TOLERANCE, report[0]
