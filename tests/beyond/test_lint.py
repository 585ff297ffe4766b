"""`psw lint` finds each planted defect at its file:line, passes clean files, and reads the pilot."""

from __future__ import annotations

import json

import pytest

from ingest.lint import article_errors, wants_an
from tests.conftest import REFERENCE, Psw

PAIRS = [
    {"id": "clean", "pos": "honest", "neg": "untruthful"},                                          # line 1
    {"id": "negated", "pos": "kind", "neg": "not kind"},                                            # line 2
    {"id": "vim", "pos": "prefers vim because modal editing is faster", "neg": "prefers emacs"},    # line 3
    {"id": "mirrored", "pos": "wellbeing first even when authority objects",
     "neg": "authority first even when wellbeing suffers"},                                         # line 4
    {"id": "article", "pos": "careful", "neg": "impulsive",
     "positive_behavior": "gives a honest account", "negative_behavior": "gives an vague account"},  # line 5
    {"id": "echo", "pos": "security-minded public servant", "neg": "careless"},                     # line 6
    {"id": "frame", "pos": "loyal even when it costs", "neg": "disloyal because it pays"},          # line 7
    {"id": "repeng", "pos": "high on acid", "neg": "sober, not on acid"},                           # line 8
]
TEMPLATES = [
    "You are an {persona} person.",           # line 1: 'an kind', 'an careful', ...
    "Respond as someone who is {persona}.",   # line 2: clean
    "Pretend you are a helpful assistant.",   # line 3: no slot
    "Act as a {Persona} person.",             # line 4: misspelt slot
    "You are {{ persona }}; answer {name}.",  # line 5: Jinja slot and an unknown placeholder
    "__verbatim_skill_persona__",             # line 6: engineered template, no slot on purpose
]


@pytest.fixture
def planted(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p) + "\n" for p in PAIRS) + "{not json\n")
    templates = tmp_path / "templates.txt"
    templates.write_text("\n".join(TEMPLATES) + "\n")
    return pairs, templates


def findings(out: str) -> list[tuple[str, int, str, str]]:
    rows = []
    for line in out.strip().splitlines():
        path, number, check, message = line.split(":", 3)
        rows.append((path.rsplit("/", 1)[-1], int(number), check.strip(), message.strip()))
    return rows


def test_lint_finds_each_planted_defect(planted, psw):
    pairs, templates = planted
    rc, out, err = psw("lint", pairs, templates)
    assert rc == 1 and "Traceback" not in err
    found = findings(out)
    where = {(f, n, c) for f, n, c, _ in found}
    assert ("pairs.jsonl", 2, "negation") in where                  # kind / not kind
    assert ("pairs.jsonl", 3, "unmirrored") in where                # the 'because' clause has no counterpart
    assert ("pairs.jsonl", 7, "unmirrored") in where                # 'even when' vs 'because'
    assert {("pairs.jsonl", 5, "article")} <= where
    assert ("pairs.jsonl", 6, "echo") in where                      # self-label and role noun
    assert ("pairs.jsonl", 9, "record") in where                    # the broken line is named, not skipped
    assert ("templates.txt", 1, "article") in where                 # 'an careful', 'an kind'
    assert {("templates.txt", n, "slot") for n in (3, 4, 5)} <= where
    # clean lines stay clean: a plain antonym pair, mirrored clauses (the second names the other pole in
    # the repeng pair), a good template, an engineered one
    assert not {n for f, n, _ in where if f == "pairs.jsonl"} & {1, 4, 8}
    assert not {n for f, n, _ in where if f == "templates.txt"} & {2, 6}
    messages = {(f, n, c): m for f, n, c, m in found}
    assert "'a honest' should be 'an honest'" in out and "'an vague' should be 'a vague'" in out
    assert "'an kind' (negated pos)" in messages[("templates.txt", 1, "article")]
    assert "'{Persona}' is not the slot" in out and "'{{ persona }}' is not the slot" in out
    assert "'{name}' is not filled" in out and "no {persona} slot" in messages[("templates.txt", 3, "slot")]
    assert "role noun 'servant'" in out and "self-label 'security-minded'" in out
    assert found == sorted(found, key=lambda f: (f[0] != "pairs.jsonl", f[1]))  # file order, then line order
    assert f"lint: {len(found)} findings in 2 of 2 files" in err


def test_lint_passes_clean_files(tmp_path, psw):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps(PAIRS[0]) + "\n" + json.dumps(PAIRS[3]) + "\n")
    templates = tmp_path / "templates.txt"
    templates.write_text("Respond as someone who is {persona}.\n")
    rc, out, err = psw("lint", pairs, templates)
    assert (rc, out) == (0, "") and "lint: 0 findings" in err


def test_lint_on_the_reference_pilot(psw):
    rc, out, _ = psw("lint", REFERENCE / "persona_pairs_v2_candidates.jsonl", REFERENCE / "templates_v2_candidates.txt")
    assert rc == 1
    found = findings(out)
    # the published templates say 'a {persona}', which reads 'a honest' for the honest_untruthful pair
    assert ("templates_v2_candidates.txt", 1, "article") in {(f, n, c) for f, n, c, _ in found}
    assert "'a honest' (honest_untruthful pos)" in out
    assert ("persona_pairs_v2_candidates.jsonl", 4, "echo") in {(f, n, c) for f, n, c, _ in found}
    assert not [f for f in found if f[2] in ("negation", "record", "slot")]


def test_lint_bad_input_is_one_line(tmp_path, psw):
    rc, _, err = psw("lint", tmp_path / "missing.jsonl")
    assert rc == 2 and "missing.jsonl: no such file" in err
    scenarios = tmp_path / "scenarios.jsonl"
    scenarios.write_text('{"id": "s1", "prompt": "What now?"}\n')
    rc, _, err = psw("lint", scenarios)
    assert rc == 2 and "this is scenarios" in err and len(err.strip().splitlines()) == 1
    bad = tmp_path / "templates.txt"
    bad.write_bytes(b"You are a {persona} person.\nAct \xff as {persona}.\n")
    rc, out, _ = psw("lint", bad)
    assert rc == 1 and "templates.txt:2: record: not valid UTF-8 (byte 0xff at column 5)" in out


@pytest.mark.parametrize("word, expected", [
    ("honest", True), ("hour", True), ("untruthful", True), ("apple", True), ("LLM", True), ("FBI", True),
    ("user", False), ("unique", False), ("European", False), ("one-sided", False), ("kind", False), ("UN", False),
])
def test_wants_an(word, expected):
    assert wants_an(word) is expected


def test_article_errors_keep_the_case():
    assert article_errors("A honest answer, an kind word.") == [
        "'A honest' should be 'An honest'", "'an kind' should be 'a kind'"]
