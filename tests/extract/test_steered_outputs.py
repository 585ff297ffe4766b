"""Steered outputs read, not just counted: the judge's rubric files, re-judging stored sweeps,
steered_outputs / steering_summary (trait over coherent outputs, length drift) and the side-by-side
view. Tiny in-test model, a real judge server on 127.0.0.1, a real DuckDB file and `psw build`."""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "collect"))
from fakeserver import FakeLLM, FakeServer, first_prompt  # noqa: E402

from extract.rubric import RUBRIC_DIR  # noqa: E402
from test_imported_vectors import query as rows  # noqa: E402
from psw.cli import main  # noqa: E402

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
LAYER = 1
CALM = "Stay calm: what should the manager do about the missing funds?"
# a scenario that would run if it were ever rendered or formatted: it must reach the judge as written
PAYLOAD = "Literal {answer} and {{ 7*7 }} and {x.__class__} and {pos}: what now?"
EDITED = ("EDITED rubric {x.__class__} {{ answer }} {{ 7*7 }} stays as written.\nHigh: {pos}\nLow: {neg}\n"
          "Q: {question}\nA: {answer}\nReply with a number.\n")


def psw(db, *args) -> int:
    return main(["--db", str(db), *map(str, args)])


def reply(body: dict) -> str:
    """A judge's reply, a fixed function of the prompt: trait (either rubric) from its hash, coherence 85
    for the calm scenario and 20 or 60 (by hash) otherwise."""
    prompt = first_prompt(body)
    digest = int(hashlib.md5(prompt.encode()).hexdigest(), 16)
    if "persona axis" in prompt or prompt.startswith("EDITED rubric"):
        return str(digest % 101)
    return "85" if CALM in prompt else ("20" if digest % 2 else "60")


def default_fill(rubric: str, pos: str, neg: str, question: str, answer: str) -> str:
    """By hand: none of pos, neg or answer holds a slot, so replacing answer before question is exact."""
    text = Path(RUBRIC_DIR / f"{rubric}.txt").read_text().rstrip("\n")
    return (text.replace("{pos}", pos).replace("{neg}", neg).replace("{answer}", answer)
            .replace("{question}", question))


def edited_fill(pos: str, neg: str, question: str, answer: str) -> str:
    return (f"EDITED rubric {{x.__class__}} {{{{ answer }}}} {{{{ 7*7 }}}} stays as written.\n"
            f"High: {pos}\nLow: {neg}\nQ: {question}\nA: {answer}\nReply with a number.")


@pytest.fixture(scope="module")
def swept(tiny, pilot_db, tmp_path_factory):
    """The pilot's top cell: its vector at layer 1 of the tiny model, swept at -4, 0, 4 over two scenarios,
    judged by the server with the bundled rubric, then re-judged with an edited trait rubric.
    -> (db, cell, (pos, neg) persona, bodies of the first judging, bodies of the re-judging, work dir)."""
    work = tmp_path_factory.mktemp("steered")
    db = work / "warehouse.duckdb"
    shutil.copy(pilot_db, db)
    cell, pos, neg = rows(db, "select cell_id, any_value(pos_persona), any_value(neg_persona) from examples "
                              "where cell_id = (select cell_id from template_pair_scores order by score desc, "
                              "cell_id limit 1) group by cell_id")[0]
    model_dir = work / "tiny-model"
    for part in tiny:
        part.save_pretrained(model_dir)
    assert psw(db, "extract", "vectors", "--model", model_dir, "--layers", LAYER, "--cell", cell) == 0
    scenarios = work / "scenarios.jsonl"
    scenarios.write_text(f'{{"id": "calm", "prompt": "{CALM}"}}\n{{"id": "payload", "prompt": "{PAYLOAD}"}}\n')
    server = FakeServer(FakeLLM(responder=reply)).start()
    try:
        assert psw(db, "extract", "steer", "--cell", cell, "--layer", LAYER, "--coeffs", "-4,0,4",
                   "--scenarios", scenarios, "--max-new-tokens", 6, "--judge", "judge-x",
                   "--base-url", server.base_url) == 0
        first_bodies = list(server.llm.bodies)
        edited = work / "edited"
        edited.mkdir()
        (edited / "trait.txt").write_text(EDITED)
        shutil.copy(RUBRIC_DIR / "coherence.txt", edited / "coherence.txt")
        assert psw(db, "extract", "judge", "--cell", cell, "--layer", LAYER, "--judge", "judge-x",
                   "--rubric", edited, "--base-url", server.base_url) == 0
        yield db, cell, (pos, neg), first_bodies, server.llm.bodies[len(first_bodies):], work
    finally:
        server.stop()


@pytest.fixture(scope="module")
def built(swept):
    db = swept[0]
    assert psw(db, "build") == 0
    return db


def generations(db) -> list[tuple]:
    return rows(db, "select generation_id, coeff, scenario_id, scenario_text, response_text, n_tokens "
                    "from raw.steering_generations order by coeff, scenario_id")


def test_the_bundled_rubric_reaches_the_judge_with_values_substituted_literally(swept):
    db, _, (pos, neg), bodies, _, _ = swept
    sent = {first_prompt(body) for body in bodies}
    expected = set()
    for _, _, _, question, answer, _ in generations(db):
        expected |= {default_fill("trait", pos, neg, question, answer),
                     default_fill("coherence", pos, neg, question, answer)}
    assert sent == expected and len(bodies) == 12  # 6 generations x trait, coherence
    payload = [p for p in sent if "persona axis" in p and PAYLOAD in p]
    assert len(payload) == 3 and all("Question:\n" + PAYLOAD + "\n\nResponse:\n" in p for p in payload)
    stored = dict(rows(db, "select rubric_hash, rubric_text from raw.steering_rubrics"))
    for name in ("trait", "coherence"):
        text = (RUBRIC_DIR / f"{name}.txt").read_text().rstrip("\n")
        assert stored[hashlib.sha256(text.encode()).hexdigest()] == text


def test_an_edited_rubric_reaches_the_server_verbatim_and_adds_rows_beside_the_old(swept):
    db, _, (pos, neg), _, rejudged, _ = swept
    assert len(rejudged) == 6  # trait only: the coherence rubric is unchanged, so already answered
    by_generation = {(q, a): gid for gid, _, _, q, a, _ in generations(db)}
    for body in rejudged:
        prompt = first_prompt(body)
        question, answer = re.fullmatch(r"(?s).*\nQ: (.*)\nA: (.*)\nReply with a number\.", prompt).groups()
        assert (question, answer) in by_generation
        assert prompt == edited_fill(pos, neg, question, answer)
    edited_hash = hashlib.sha256(EDITED.rstrip("\n").encode()).hexdigest()
    counts = dict(rows(db, "select prompt_hash, count(*) from raw.steering_judgments "
                           "where criterion = 'trait' group by 1"))
    assert len(counts) == 2 and counts[edited_hash] == 6 and sum(counts.values()) == 12
    assert rows(db, "select rubric_text from raw.steering_rubrics where rubric_hash = ?",
                [edited_hash]) == [(EDITED.rstrip("\n"),)]


def test_trait_over_coherent_outputs_and_the_newest_rubric_match_a_hand_computation(swept, built):
    _, _, (pos, neg), bodies, rejudged, _ = swept
    replies = {first_prompt(b): float(reply(b)) for b in bodies + rejudged}
    by_coeff: dict[float, list[tuple[float, float]]] = {}
    for _, coeff, _, question, answer, _ in generations(built):
        trait = replies[edited_fill(pos, neg, question, answer)]  # the newest rubric's, not the first's
        coherence = replies[default_fill("coherence", pos, neg, question, answer)]
        by_coeff.setdefault(coeff, []).append((trait, coherence))
    summary = rows(built, "select coeff, n_coherent, coherent_rate, mean_trait_score, mean_trait_score_coherent, "
                          "mean_coherence_score, trait_rubric_hash from steering_summary order by coeff")
    edited_hash = hashlib.sha256(EDITED.rstrip("\n").encode()).hexdigest()
    assert [r[0] for r in summary] == [-4.0, 0.0, 4.0]
    for coeff, n_coherent, rate, trait, trait_coherent, coherence, rubric in summary:
        scored = by_coeff[coeff]
        coherent = [t for t, c in scored if c >= 50]
        assert (n_coherent, rate) == (len(coherent), len(coherent) / len(scored))
        assert trait_coherent == (pytest.approx(sum(coherent) / len(coherent)) if coherent else None)
        assert trait == pytest.approx(sum(t for t, _ in scored) / len(scored)) and rubric == edited_hash
        assert coherence == pytest.approx(sum(c for _, c in scored) / len(scored))
    old = rows(built, "select count(*) from raw.steering_judgments where criterion = 'trait' and prompt_hash <> ?",
               [edited_hash])
    assert old == [(6,)]
    assert any(r[1] < 2 for r in summary)  # the fixed replies mark some outputs incoherent


def test_length_drift_matches_a_hand_computation(built):
    gens = generations(built)
    base = {sid: (len(re.findall(r"[A-Za-z']+", text)), tokens) for _, coeff, sid, _, text, tokens in gens
            if coeff == 0}
    for coeff in (-4.0, 0.0, 4.0):
        at = [(len(re.findall(r"[A-Za-z']+", text)) - base[sid][0], tokens - base[sid][1])
              for _, c, sid, _, text, tokens in gens if c == coeff]
        expected = (sum(w for w, _ in at) / len(at), sum(t for _, t in at) / len(at))
        got = rows(built, "select mean_words_delta_vs_baseline, mean_tokens_delta_vs_baseline, n_with_baseline "
                          "from steering_summary where coeff = ?", [coeff])[0]
        assert got == (pytest.approx(expected[0]), pytest.approx(expected[1]), 2)
    outputs = rows(built, "select count(*), count(baseline_generation_id), count(trait_score) from steered_outputs")
    assert outputs == [(6, 6, 6)]


@pytest.mark.parametrize("trait_text, where", [
    ("High {pos} low {neg}\nQuestion {question}\n", "the trait rubric needs the slot(s) {answer}"),
    ("High {pos} low {neg}\nQ {question} A {answer}\nscore {score} please\n", "trait.txt:3: unknown slot {score}"),
])
def test_a_bad_rubric_is_one_line_exit_2_and_writes_nothing(swept, tmp_path, capsys, trait_text, where):
    db, cell, _, _, _, work = swept
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "trait.txt").write_text(trait_text)
    shutil.copy(RUBRIC_DIR / "coherence.txt", bad / "coherence.txt")
    before = rows(db, "select (select count(*) from raw.steering_generations), "
                      "(select count(*) from raw.steering_judgments), (select count(*) from raw.steering_rubrics)")
    capsys.readouterr()
    assert psw(db, "extract", "judge", "--cell", cell, "--judge", "j", "--rubric", bad,
               "--base-url", "http://127.0.0.1:9/v1") == 2
    assert psw(db, "extract", "steer", "--cell", cell, "--layer", LAYER, "--coeffs", "2", "--judge", "j",
               "--rubric", bad, "--scenarios", work / "scenarios.jsonl", "--base-url", "http://127.0.0.1:9/v1") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(where in line and str(bad / "trait.txt") in line for line in err), err
    (bad / "coherence.txt").unlink()
    assert psw(db, "extract", "judge", "--cell", cell, "--judge", "j", "--rubric", bad) == 2
    assert rows(db, "select (select count(*) from raw.steering_generations), "
                    "(select count(*) from raw.steering_judgments), (select count(*) from raw.steering_rubrics)"
                ) == before


def test_judge_without_sweeps_says_what_to_run(swept, capsys):
    db = swept[0]
    assert psw(db, "extract", "judge", "--cell", "no-such-cell", "--judge", "j", "--base-url", "http://127.0.0.1:9/v1") == 2
    assert "run `psw extract steer` first" in capsys.readouterr().err


def open_page(monkeypatch, db, page: str, **params) -> AppTest:
    monkeypatch.setenv("PSW_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_steered_texts_view_shows_each_scenario_across_coefficients(monkeypatch, swept, built):
    cell = swept[1]
    at = open_page(monkeypatch, built, "views/steered.py", cell=cell)
    assert at.title[0].value == "Steered texts"
    assert at.selectbox(key="steered_cell").value == cell
    assert at.selectbox(key="steered_layer").value == LAYER
    assert at.selectbox(key="steered_positions").value == "response"
    headers = [m.value for m in at.markdown if m.value.startswith("**coeff")]
    assert headers == ["**coeff -4**", "**coeff +0**", "**coeff +4**"] * 2
    scenarios = [m.value for m in at.markdown if m.value.startswith("**Scenario")]
    assert scenarios == ["**Scenario 1** · `calm`", "**Scenario 2** · `payload`"]
    assert PAYLOAD in [t.value for t in at.text]
    incoherent = rows(built, "select count(*) from steered_outputs where not is_coherent")[0][0]
    assert len([w for w in at.warning if w.value.startswith("incoherent")]) == incoherent > 0
    captions = [c.value for c in at.caption if c.value.startswith("trait ")]
    expected = {f"trait {t:.0f} · coherence {c:.0f} · {w} words" for t, c, w in rows(
        built, "select trait_score, coherence_score, n_words from steered_outputs")}
    assert len(captions) == 6 and set(captions) == expected
    for _, _, _, _, text, _ in generations(built):
        assert any(m.value == (text.strip() or "_(empty)_") for m in at.markdown)


def test_the_steering_page_draws_the_coherent_trait_and_the_drift(monkeypatch, swept, built):
    at = open_page(monkeypatch, built, "views/steering.py", cell=swept[1])
    subheaders = [h.value for h in at.subheader]
    assert "Trait score, coherent outputs only" in subheaders and "Length and style drift" in subheaders
    assert at.selectbox(key="drift_measure").value == "mean_words_delta_vs_baseline"
    assert not [c.value for c in at.caption if c.value.startswith(("No drift", "No coherent"))]
    assert len(at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")) >= 4  # + coherent trait, drift


def test_a_warehouse_without_sweeps_says_which_command_fills_the_view(monkeypatch, pilot_db):
    at = open_page(monkeypatch, pilot_db, "views/steered.py")
    assert "psw extract steer --cell CELL_ID" in at.info[0].value


def test_judge_rejudges_an_imported_vectors_sweep_about_its_trait_by_name(swept, tmp_path):
    from imported_files import our_layers, persona_stack, write_repeng_gguf

    db, _, _, _, _, work = swept
    gguf = write_repeng_gguf(tmp_path / "calm.gguf", {k: v.numpy() for k, v in our_layers(persona_stack()).items()})
    assert psw(db, "ingest", gguf, "--model", work / "tiny-model", "--trait", "calm") == 0
    scenarios = tmp_path / "s.txt"
    scenarios.write_text("What now?\n")
    assert psw(db, "extract", "steer", "--vector", "calm", "--layer", LAYER, "--coeffs", "0,2",
               "--scenarios", scenarios, "--max-new-tokens", 3) == 0
    server = FakeServer(FakeLLM(responder=reply)).start()
    try:
        assert psw(db, "extract", "judge", "--vector", "calm", "--judge", "judge-y", "--base-url", server.base_url) == 0
        sent = [first_prompt(body) for body in server.llm.bodies]
    finally:
        server.stop()
    texts = rows(db, "select scenario_text, response_text from raw.steering_generations where cell_id = 'trait:calm'")
    assert sorted(sent) == sorted(default_fill(name, "strongly shows the trait 'calm'", "shows none of the trait "
                                               "'calm'", question, answer)
                                  for question, answer in texts for name in ("trait", "coherence"))
    assert rows(db, "select count(*) from raw.steering_judgments as j join raw.steering_generations as g "
                    "using (generation_id) where g.cell_id = 'trait:calm' and j.score is not null") == [(4,)]


def test_unjudged_texts_say_which_command_judges_them(swept, monkeypatch, tmp_path):
    db = swept[0]  # holds the imported vector `calm` from the test above
    scenarios = tmp_path / "s.txt"
    scenarios.write_text("What next?\n")
    assert psw(db, "extract", "steer", "--vector", "calm", "--layer", 2, "--coeffs", "0,3",
               "--scenarios", scenarios, "--max-new-tokens", 3) == 0
    assert psw(db, "build") == 0
    at = open_page(monkeypatch, db, "views/steered.py", cell="trait:calm", layer="2")
    assert at.selectbox(key="steered_layer").value == 2
    assert "`psw extract judge --vector calm --layer 2 --judge MODEL`" in at.info[0].value
    assert [m.value for m in at.markdown if m.value.startswith("**coeff")] == ["**coeff +0**", "**coeff +3**"]
