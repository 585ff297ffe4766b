"""`psw extract vectors | steer | project` against a small warehouse of judged pairs."""

from __future__ import annotations

import duckdb
import pytest

from extract.judge import judge_generations, parse_score
from extract.rubric import load_rubrics
from psw.cli import main


def query(db, sql):
    con = duckdb.connect(db, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def extracted(examples_db, tiny_path):
    assert main(["--db", examples_db, "extract", "vectors", "--model", tiny_path, "--layers", "1,2",
                 "--batch-size", "4"]) == 0
    return examples_db


def test_vectors_store_runs_vectors_and_pair_stats(extracted, tmp_path):
    runs = query(extracted, "select model_id, chat_template_hash, layer_convention, layers from raw.activation_runs")
    assert len(runs) == 1 and runs[0][1] and runs[0][2].startswith("output of model.layers[L]")
    assert runs[0][3] == [1, 2]
    vectors = query(extracted, "select cell_id, layer, reduction, n_pairs, norm, len(vector), safetensors_path "
                               "from raw.activation_vectors order by all")
    assert len(vectors) == 2 * 2 * 2  # cells x layers x reductions
    assert all(v[3] == 3 and v[4] > 0 and v[5] == 64 for v in vectors)
    assert all(v[6].startswith(str(tmp_path / "vectors")) for v in vectors)
    stats = query(extracted, "select count(*), count(distinct pair_id) from raw.activation_pair_stats")
    assert stats == [(6 * 2 * 2, 6)]
    # re-running the same extraction adds nothing
    n_before = query(extracted, "select count(*) from raw.activation_pair_stats")
    assert main(["--db", extracted, "extract", "vectors", "--model", extracted.replace("w.duckdb", "") + "x",
                 "--layers", "1"]) == 2  # a bad model path is one line, exit 2
    assert query(extracted, "select count(*) from raw.activation_pair_stats") == n_before


def test_strict_only_and_bad_layers(examples_db, tiny_path, capsys):
    assert main(["--db", examples_db, "extract", "vectors", "--model", tiny_path, "--layers", "7"]) == 2
    assert "--layers" in capsys.readouterr().err
    assert main(["--db", examples_db, "extract", "vectors", "--model", tiny_path, "--layers", "2",
                 "--strict-only"]) == 0
    assert query(examples_db, "select distinct n_pairs from raw.activation_vectors") == [(2,)]


def test_steer_and_project(extracted, tiny_path, tmp_path):
    scenarios = tmp_path / "s.jsonl"
    scenarios.write_text('{"id": "a", "prompt": "What now?"}\n{"id": "b", "text": "Tell me more."}\n')
    assert main(["--db", extracted, "extract", "steer", "--cell", "cell-0", "--layer", "2", "--coeffs",
                 "-3,0,3", "--positions", "response", "--scenarios", str(scenarios),
                 "--max-new-tokens", "5"]) == 0
    rows = query(extracted, "select coeff, scenario_id, n_tokens, projection from raw.steering_generations "
                            "order by coeff, scenario_id")
    assert [(r[0], r[1]) for r in rows] == [(-3, "a"), (-3, "b"), (0, "a"), (0, "b"), (3, "a"), (3, "b")]
    assert all(0 < r[2] <= 5 for r in rows)
    assert main(["--db", extracted, "extract", "steer", "--cell", "cell-0", "--layer", "2", "--coeffs", "1",
                 "--max-new-tokens", "3"]) == 0  # default scenarios: the cell's
    assert query(extracted, "select count(*) from raw.steering_generations where coeff = 1") == [(3,)]
    assert main(["--db", extracted, "extract", "project", "--cell", "cell-0", "--layer", "2"]) == 0
    kinds = dict(query(extracted, "select response_kind, count(*) from raw.activation_projections group by 1"))
    assert kinds == {"prompted_pos": 3, "prompted_neg": 3, "baseline": 2, "steered": 7}
    # the pairs' projections in project equal those stored by vectors (same pass, same vector)
    same = query(extracted, """
        select max(abs(p.projection - s.pos_projection))
        from raw.activation_projections as p
        join raw.activation_pair_stats as s on s.vector_id = p.vector_id and s.pair_id = p.response_id
        where p.response_kind = 'prompted_pos'""")
    assert same[0][0] < 1e-4


def test_steer_without_a_vector_is_a_user_error(examples_db, capsys):
    assert main(["--db", examples_db, "extract", "steer", "--cell", "nope", "--layer", "1"]) == 2
    assert "no stored vector" in capsys.readouterr().err


def test_judge_scores_are_stored_and_bad_replies_are_errors(extracted, tiny_path):
    from collect.client import ChatResult

    assert main(["--db", extracted, "extract", "steer", "--cell", "cell-1", "--layer", "1", "--coeffs", "0,2",
                 "--max-new-tokens", "3"]) == 0

    class FakeClient:
        async def chat(self, model, messages, params):
            text = messages[0]["content"]
            return ChatResult(content="87" if "persona axis" in text else "very coherent")

        async def aclose(self):
            pass

    con = duckdb.connect(extracted)
    try:
        ids = [r[0] for r in con.execute("select generation_id from raw.steering_generations").fetchall()]
        n = judge_generations(con, ids, ["judge-x"], {"pos": "bold", "neg": "cautious"}, "http://localhost:1",
                              "", load_rubrics(), client_factory=lambda *a: FakeClient())
        rows = con.execute("select criterion, score, error from raw.steering_judgments order by all").fetchall()
    finally:
        con.close()
    assert n == 2 * len(ids)
    assert {(r[0], r[1], r[2]) for r in rows} == {("coherence", None, "no number in reply"), ("trait", 87, None)}
    assert parse_score("Score: 140") == (None, "score 140.0 outside 0-100")
