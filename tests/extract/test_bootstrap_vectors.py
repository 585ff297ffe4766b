"""Bootstrap replicates of cell vectors (`psw extract vectors --bootstrap N`) and the intervals of
the trait-geometry cosines drawn from them, recomputed by hand."""

from __future__ import annotations

import functools
import json
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest
import torch

from imported_files import persona_stack, write_persona_pt
from psw.cli import main
from extract.vectors import bootstrap_weights, extract_cells
from test_imported_vectors import query
from test_vectors import LAYERS, pairs
from tests.conftest import ROOT

REPLICATES = 20


def test_resamples_are_n_draws_with_replacement_seeded_by_cell():
    weights = bootstrap_weights("cell-1", 5, 200, seed=0)
    counts = weights * 5
    assert weights.shape == (200, 5)
    assert torch.equal(counts, counts.round()) and bool((counts.sum(1) == 5).all())
    assert torch.allclose(weights.sum(1), torch.ones(200))
    assert abs(float((counts == 0).float().mean()) - 0.8 ** 5) < 0.05  # P(a pair is not drawn) = (4/5)^5
    assert torch.equal(weights, bootstrap_weights("cell-1", 5, 200, seed=0))
    assert not torch.equal(weights, bootstrap_weights("cell-2", 5, 200, seed=0))
    assert not torch.equal(weights, bootstrap_weights("cell-1", 5, 200, seed=1))


def test_replicates_are_the_mean_diff_of_the_resampled_pairs(tiny):
    model, tokenizer = tiny
    plain, _ = extract_cells(model, tokenizer, pairs(), LAYERS)
    vectors, _ = extract_cells(model, tokenizer, pairs(), LAYERS, bootstrap=REPLICATES, seed=3)
    assert all(v.replicates is None for v in plain)
    for vector, same in zip(vectors, plain):
        assert torch.equal(vector.vector, same.vector)  # the vector itself does not change
        assert vector.replicates.shape == (REPLICATES, vector.vector.shape[0])
    # c0 holds pairs p0, p2, p4: rebuild each pair's diff from one-pair cells, then resample by hand
    cell = [p for p in pairs() if p.cell_id == "c0"]
    singles, _ = extract_cells(model, tokenizer, [replace(p, cell_id=p.pair_id) for p in cell], LAYERS)
    weights = bootstrap_weights("c0", len(cell), REPLICATES, seed=3)
    for vector in (v for v in vectors if v.cell_id == "c0"):
        diffs = torch.stack([s.vector for p in cell for s in singles
                             if s.cell_id == p.pair_id and (s.layer, s.reduction) == (vector.layer, vector.reduction)])
        assert torch.allclose(vector.replicates, weights @ diffs, atol=1e-4)


@pytest.fixture
def extracted(examples_db, tiny_path, tmp_path):
    assert main(["--db", examples_db, "extract", "vectors", "--model", tiny_path, "--layers", "1,2",
                 "--bootstrap", str(REPLICATES)]) == 0
    folder = tmp_path / "in"
    folder.mkdir()
    assert main(["--db", examples_db, "ingest", str(write_persona_pt(folder, "evil", persona_stack())),
                 "--model", tiny_path]) == 0
    # trait_geometry and what it reads, each checking its guarantees as it is built (the other marts
    # do not enter the claim)
    assert main(["--db", examples_db, "build", "--select", "+trait_geometry"]) == 0
    return examples_db


def noise_correction(db, vector_id) -> tuple[float | None, float]:
    """trait_geometry's (corrected squared norm, replicate noise) of a vector: (n |v|^2 - mean |d|^2)
    / (n - 1) and (mean |d|^2 - |v|^2)(1/n + 1/(n - 1)) for a cell vector of two pairs or more,
    (None, 0) otherwise (an imported vector enters with its plain norm)."""
    rows = query(db, "select v.n_pairs, v.norm, avg(s.diff_norm ^ 2) from raw.activation_vectors v "
                     "join raw.activation_pair_stats s using (vector_id) where v.vector_id = ? group by all",
                 [vector_id])
    if not rows or rows[0][0] < 2:
        return None, 0.0
    n, norm, msq = rows[0]
    return (n * norm ** 2 - msq) / (n - 1), (msq - norm ** 2) * (1 / n + 1 / (n - 1))


@functools.cache
def stored_draws(db, vector_id: str) -> tuple[list, bool, tuple[float | None, float]]:
    """A vector's bootstrap replicates as stored (or the vector itself, REPLICATES times, if it has
    none), whether they were resampled, and its noise correction: read once per vector."""
    rows = query(db, "select vector from raw.activation_vector_replicates where vector_id = ? "
                     "order by replicate", [vector_id])
    if rows:
        return [np.asarray(r[0], dtype=np.float64) for r in rows], True, noise_correction(db, vector_id)
    fixed = query(db, "select vector from raw.activation_vectors where vector_id = ? union all "
                      "select vector from raw.imported_vectors where vector_id = ?", [vector_id, vector_id])
    return [np.asarray(fixed[0][0], dtype=np.float64)] * REPLICATES, False, noise_correction(db, vector_id)


def by_hand(db, vector_a: str, vector_b: str) -> tuple[float, float, int]:
    def norm_sq(vector, correction, resampled):
        signal, noise = correction
        if resampled:
            return vector @ vector - noise
        return vector @ vector if signal is None else signal

    (reps_a, resampled_a, correction_a), (reps_b, resampled_b, correction_b) = \
        stored_draws(db, vector_a), stored_draws(db, vector_b)
    cosines = [float(np.clip(a @ b / np.sqrt(max(norm_sq(a, correction_a, resampled_a), 1e-150)
                                             * max(norm_sq(b, correction_b, resampled_b), 1e-150)), -1, 1))
               for a, b in zip(reps_a, reps_b)]
    low, high = np.quantile(cosines, [0.025, 0.975])
    return float(low), float(high), len(cosines)


def test_geometry_cosine_intervals_equal_a_by_hand_bootstrap(extracted):
    db = extracted
    assert query(db, "select count(*) from raw.activation_vector_replicates") == [(2 * 2 * 2 * REPLICATES,)]
    rows = query(db, """select vector_id_a, vector_id_b, vector_kind_a, vector_kind_b, cosine, cosine_ci_low,
                               cosine_ci_high, n_bootstrap, cosine_ci_level
                        from trait_geometry where vector_id_a <> vector_id_b order by all""")
    kinds = {(r[2], r[3]) for r in rows}
    assert {("cell", "cell"), ("cell", "imported"), ("imported", "cell")} <= kinds
    for a, b, kind_a, kind_b, cosine, low, high, n, level in rows:
        if kind_a == kind_b == "imported":
            assert (low, high, n, level) == (None, None, None, None)
            continue
        assert (low, high, n) == pytest.approx(by_hand(db, a, b), abs=1e-5), (a, b)
        assert level == 0.95 and low <= high
    widths = [r[6] - r[5] for r in rows if r[2] == r[3] == "cell"]
    assert max(widths) > 0.01  # three pairs per cell: the cosines are uncertain


def test_the_steering_page_draws_the_cosine_intervals_as_error_bars(pilot_copy, tiny_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    extracted = str(pilot_copy)
    assert main(["--db", extracted, "extract", "vectors", "--model", tiny_path, "--layers", "1"]) == 0
    assert main(["--db", extracted, "build", "--select", "+trait_geometry"]) == 0
    monkeypatch.setenv("PSW_DB", extracted)
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("views/steering.py").run()
    assert not at.exception, [e.value for e in at.exception]
    (chart,) = [c for c in at.get("vega_lite_chart") if '"errorbar"' in c.proto.spec]
    bars = json.loads(chart.proto.spec)["layer"][0]["encoding"]
    assert (bars["x"]["field"], bars["x2"]["field"]) == ("cosine_ci_low", "cosine_ci_high")
    drawn = pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_all().to_pylist()
    anchor = at.selectbox(key="geometry_anchor").value
    layer = at.selectbox(key="geometry_layer").value
    assert drawn and all(row["label_a"] == anchor and row["label_b"] != anchor for row in drawn)
    stored = query(extracted, "select cell_id_b, cosine_ci_low, cosine_ci_high from trait_geometry "
                              "where layer = ? and cell_id_a = ? and cell_id_b is not null", [layer, drawn[0]["cell_id_a"]])
    assert {(r["cell_id_b"], r["cosine_ci_low"], r["cosine_ci_high"]) for r in drawn if r["cell_id_b"]} <= set(stored)


def test_bootstrap_zero_stores_no_replicates_and_no_interval(examples_db, tiny_path, capsys):
    assert main(["--db", examples_db, "extract", "vectors", "--model", tiny_path, "--layers", "1",
                 "--bootstrap", "0"]) == 0
    assert query(examples_db, "select count(*) from raw.activation_vector_replicates") == [(0,)]
    assert main(["--db", examples_db, "extract", "vectors", "--model", tiny_path, "--bootstrap", "-1"]) == 2
    assert "--bootstrap" in capsys.readouterr().err
