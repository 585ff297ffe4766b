"""persona_vectors' effective-pair rule (issue 26.4): `psw extract judge --measurement M` scores each
pair's own two completions for trait and coherence through a loopback judge; `pair_response_scores`
applies the rule (positive trait >= 50, negative < 50, both coherence >= 50) and
`psw export-selection --effective-only` keeps exactly the pairs it holds true. Each score and flag
equals a hand computation from the server's planted replies."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "collect"))
from fakeserver import FakeLLM, FakeServer, first_prompt  # noqa: E402

from psw.cli import main  # noqa: E402
from test_imported_vectors import query as rows  # noqa: E402
from test_steering_quality import fill  # noqa: E402

# per pair (by its index in pair_id order, mod 4), the replies of judges a and b:
# (pos trait, neg trait, pos coherence, neg coherence); "x" is a reply without a number
PLANTED = {
    0: {"judge-a": ("90", "20", "90", "60"), "judge-b": ("50", "30", "70", "40")},   # means 70 20 80 50: effective
    1: {"judge-a": ("80", "50", "90", "90"), "judge-b": ("80", "50", "90", "90")},   # neg trait 50 is not < 50
    2: {"judge-a": ("90", "10", "40", "90"), "judge-b": ("90", "10", "45", "90")},   # pos coherence 42.5 < 50
    3: {"judge-a": ("90", "10", "90", "x"), "judge-b": ("90", "10", "90", "x")},     # no neg coherence: null
}


def psw(db, *args) -> int:
    return main(["--db", str(db), *map(str, args)])


def expected(kind: int) -> tuple:
    """(pos trait, neg trait, pos coherence, neg coherence, is_effective) by hand."""
    means = []
    for slot in range(4):
        values = [float(PLANTED[kind][j][slot]) for j in ("judge-a", "judge-b") if PLANTED[kind][j][slot] != "x"]
        means.append(sum(values) / len(values) if values else None)
    if None in means:
        return (*means, None)
    pos_t, neg_t, pos_c, neg_c = means
    return (*means, pos_t >= 50 and neg_t < 50 and pos_c >= 50 and neg_c >= 50)


@pytest.fixture(scope="module")
def judged(pilot_db, tmp_path_factory):
    """The pilot's top cell's pairs judged by two loopback judges -> (db, cell, {pair_id: kind}, prompts)."""
    work = tmp_path_factory.mktemp("pair_judge")
    db = work / "warehouse.duckdb"
    shutil.copy(pilot_db, db)
    cell, measurement = rows(db, "select cell_id, measurement_id from template_pair_scores "
                                 "order by score desc, cell_id limit 1")[0]
    pairs = rows(db, "select pair_id, pos_persona, neg_persona, scenario_text, pos_response, neg_response "
                     "from examples where cell_id = ? and not is_error order by pair_id", [cell])
    kinds = {pair_id: i % 4 for i, (pair_id, *_) in enumerate(pairs)}
    planted = {}   # (judge, prompt) -> reply, the rubric filled by hand for each completion
    for pair_id, pos, neg, question, pos_response, neg_response in pairs:
        for judge, (pos_t, neg_t, pos_c, neg_c) in PLANTED[kinds[pair_id]].items():
            planted[(judge, fill("trait", pos, neg, question, pos_response))] = pos_t
            planted[(judge, fill("trait", pos, neg, question, neg_response))] = neg_t
            planted[(judge, fill("coherence", pos, neg, question, pos_response))] = pos_c
            planted[(judge, fill("coherence", pos, neg, question, neg_response))] = neg_c
    asked = []

    def reply(body: dict) -> str:
        asked.append((body["model"], first_prompt(body)))
        return planted[(body["model"], first_prompt(body))]

    server = FakeServer(FakeLLM(responder=reply)).start()
    try:
        args = ("extract", "judge", "--measurement", measurement, "--cell", cell, "--judge", "judge-a",
                "--judge", "judge-b", "--base-url", server.base_url)
        assert psw(db, *args) == 0
        n_asked = len(asked)
        assert psw(db, *args) == 0          # scored already: nothing asked again, nothing added
        assert len(asked) == n_asked
    finally:
        server.stop()
    assert psw(db, "build") == 0
    return db, cell, kinds, asked


def test_each_completion_is_judged_with_the_rubric_filled_by_hand(judged):
    db, _, kinds, asked = judged
    assert len(asked) == len(kinds) * 2 * 2 * 2      # pairs x sides x judges x criteria
    counts = rows(db, "select side, criterion, count(*), count(score) from raw.pair_response_judgments "
                      "group by all order by all")
    n, n3 = len(kinds), sum(k == 3 for k in kinds.values())
    assert counts == [("neg", "coherence", 2 * n, 2 * (n - n3)), ("neg", "trait", 2 * n, 2 * n),
                      ("pos", "coherence", 2 * n, 2 * n), ("pos", "trait", 2 * n, 2 * n)]


def test_the_scores_and_the_effective_flag_equal_hand_computations(judged):
    db, _, kinds, _ = judged
    got = {r[0]: tuple(r[1:]) for r in rows(
        db, "select pair_id, pos_trait_score, neg_trait_score, pos_coherence_score, neg_coherence_score, "
            "is_effective_pair from pair_response_scores")}
    assert got == {pair_id: expected(kind) for pair_id, kind in kinds.items()}
    assert expected(0)[-1] is True and expected(1)[-1] is False and expected(3)[-1] is None


def test_export_selection_keeps_exactly_the_effective_pairs(judged, tmp_path, capsys):
    db, cell, kinds, _ = judged
    out = tmp_path / "sel"
    assert psw(db, "export-selection", "--cell", cell, "--no-strict", "--effective-only", "--out", out) == 0
    written = [json.loads(line)["id"] for line in (out / "dpo.jsonl").read_text().splitlines()]
    candidates = {r[0] for r in rows(db, "select pair_id from examples where cell_id = ? and not is_error "
                                         "and axis_delta > 0", [cell])}
    assert written and sorted(written) == sorted(p for p in candidates if kinds[p] == 0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["effective_pair"] == len(written)
    assert "effective_pair_min_trait" in manifest["selection"]["effective_pair"]
    assert "effective (persona_vectors' rule)" in capsys.readouterr().out


def test_effective_only_without_judged_pairs_is_one_line(pilot_db, tmp_path, capsys):
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(pilot_db, db)
    assert psw(db, "build", "--select", "pair_response_scores") == 0
    cell = rows(db, "select cell_id from template_pair_scores order by score desc, cell_id limit 1")[0][0]
    capsys.readouterr()
    assert psw(db, "export-selection", "--cell", cell, "--no-strict", "--effective-only", "--out", tmp_path / "x") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--effective-only: no pair" in err[0] and "psw extract judge --measurement" in err[0]
    assert not (tmp_path / "x").exists()


def test_judging_a_measurement_with_no_pairs_is_one_line(pilot_db, tmp_path, capsys):
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(pilot_db, db)
    assert psw(db, "extract", "judge", "--measurement", "nope", "--judge", "j",
               "--base-url", "http://127.0.0.1:9/v1") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--measurement nope: no successful pairs" in err[0]
