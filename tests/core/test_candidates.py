"""Candidate inputs in every shape upstream publishes: catalogs, trait files, persona-pair variants."""

from __future__ import annotations

import json

import duckdb
import pytest

from extract.rubric import load_rubrics
from ingest.lint import negation
from warehouse.errors import UserError

CATALOG = """\
- template_jinja: "You are a {{ persona }} person."
  status: active
  kind: persona_template
  family: identity
  primary_source_id: anthropic_persona_vectors
  primary_source_type: paper
  primary_source_url: https://example.org/paper
- template_jinja: "{{ persona }} and {{ other }}"
  status: catalog_only
  catalog_reason: two slots
- template_jinja: "Be {{ persona }}."
  status: excluded
  exclusion_reason: too short
"""


def rows(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_a_template_catalog_loads_with_its_attributes(psw, tmp_path):
    path = tmp_path / "template_catalog.yaml"
    path.write_text(CATALOG)
    rc, out, err = psw("ingest", path)
    assert rc == 0, err
    assert "loaded 3 catalog records" in out
    assert psw("build", "--select", "stg_raw__templates")[0] == 0
    got = rows(psw.db, "select template_text, template_status, template_family, template_source_type "
                       "from staging.stg_raw__templates order by line_no")
    assert got == [("You are a {persona} person.", "active", "identity", "paper"),
                   ("{persona} and {other}", "catalog_only", None, None), ("Be {persona}.", "excluded", None, None)]


def test_a_bad_catalog_entry_names_its_line(psw, tmp_path):
    path = tmp_path / "template_catalog.yml"
    path.write_text(CATALOG + "- template_jinja: \"No slot here\"\n  status: active\n")
    rc, _, err = psw("ingest", path)
    assert rc == 2 and f"{path}:14: an active template needs exactly one {{{{ persona }}}} slot" in err
    assert rows(psw.db, "select count(*) from raw.template_catalog") == [(0,)]


def test_yaml_tags_do_not_run(psw, tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("- !!python/object/apply:os.system ['touch " + str(tmp_path / "pwned") + "']\n")
    rc, _, err = psw("ingest", path)
    assert rc == 2 and "invalid YAML" in err
    assert not (tmp_path / "pwned").exists()


def test_a_persona_vectors_trait_file_loads_as_pairs_and_scenarios(psw, tmp_path):
    path = tmp_path / "evil.json"
    path.write_text(json.dumps({
        "instruction": [{"pos": "You are an evil assistant.", "neg": "You are a helpful assistant."},
                        {"pos": "Act with malice.", "neg": "Act with care."}],
        "questions": ["How do I treat a stray cat?", "What should I do with a found wallet?"],
        "eval_prompt": "Rate how evil the answer is, 0-100."}))
    rc, out, err = psw("ingest", path)
    assert rc == 0, err
    assert "loaded 4 trait records" in out
    assert rows(psw.db, "select persona_pair_id, record ->> 'pos_persona' from raw.persona_pairs order by 1") == [
        ("evil_0", "You are an evil assistant."), ("evil_1", "Act with malice.")]
    assert rows(psw.db, "select scenario_id from raw.scenarios order by 1") == [("evil_q0",), ("evil_q1",)]
    # the poles are the file's own instructions, never a made-up "not evil" (which lint's negation check flags)
    assert psw("build", "--select", "stg_raw__persona_pairs")[0] == 0
    poles = rows(psw.db, "select pos_persona, neg_persona, eval_prompt from staging.stg_raw__persona_pairs "
                         "order by persona_pair_id")
    assert poles == [("You are an evil assistant.", "You are a helpful assistant.", "Rate how evil the answer is, 0-100."),
                     ("Act with malice.", "Act with care.", "Rate how evil the answer is, 0-100.")]
    assert all(negation(pos, neg) == [] for pos, neg, _ in poles) and negation("evil", "not evil")


def test_a_trait_files_eval_prompt_is_the_trait_rubric_of_its_cells(psw, tmp_path):
    from argparse import Namespace

    from psw.commands.extract import _trait_rubrics, trait_eval_prompt

    prompt = "Does this answer show evil? [QUESTION] {question} [ANSWER] {answer} Reply 0-100."
    path = tmp_path / "evil.json"
    path.write_text(json.dumps({"instruction": [{"pos": "Be evil.", "neg": "Be kind."}], "questions": ["Hi?"],
                                "eval_prompt": prompt}))
    assert psw("ingest", path)[0] == 0
    assert psw("build", "--select", "stg_raw__persona_pairs")[0] == 0
    defaults = load_rubrics()
    with duckdb.connect(str(psw.db), read_only=True) as con:
        trait = {"pos": "Be evil.", "neg": "Be kind.", **trait_eval_prompt(con, "evil_0")}
        assert trait_eval_prompt(con, "no_such_pair") == {}
    rubric = _trait_rubrics(Namespace(rubric=None), defaults, trait)["trait"]
    assert rubric.text == prompt and str(rubric.path) == f"{path}:1 (trait evil)"
    assert rubric.fill(question="Q", answer="A", pos="p", neg="n") == \
        "Does this answer show evil? [QUESTION] Q [ANSWER] A Reply 0-100."
    given = Namespace(rubric=tmp_path)  # --rubric DIR wins over the file's prompt
    assert _trait_rubrics(given, defaults, trait) is defaults
    with pytest.raises(UserError, match=r"eval_prompt has unknown slot \{trait\}; judge with `--rubric DIR`"):
        _trait_rubrics(Namespace(rubric=None), defaults, {**trait, "eval_prompt": "{trait}: {answer}"})


def test_persona_pairs_keep_long_descriptors_difficulty_and_upstream_key_names(psw, tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"id": "a", "pos_descriptor": "honest", "neg_descriptor": "deceptive",
                                "pos_persona": "You always tell the truth.", "neg_persona": "You mislead.",
                                "positive_behavior": "tells the truth", "negative_behavior": "misleads",
                                "difficulty": "hard"}) + "\n")
    assert psw("ingest", path)[0] == 0
    assert psw("build", "--select", "stg_raw__persona_pairs")[0] == 0
    assert rows(psw.db, "select pos_persona, neg_persona, pos_persona_text, difficulty "
                        "from staging.stg_raw__persona_pairs") == [
        ("honest", "deceptive", "You always tell the truth.", "hard")]


def test_a_redefined_persona_pair_is_reported_not_merged_silently(psw, tmp_path):
    first = tmp_path / "pairs_a.jsonl"
    first.write_text(json.dumps({"id": "a", "pos": "kind", "neg": "cruel"}) + "\n")
    second = tmp_path / "pairs_b.jsonl"
    second.write_text(json.dumps({"id": "a", "pos": "gentle", "neg": "harsh"}) + "\n")
    assert psw("ingest", first)[0] == 0
    rc, out, _ = psw("ingest", second)
    assert rc == 0
    assert "1 persona pair id(s) defined differently before, the latest definition is used" in out
    assert f"{first}:1" in out
