"""`psw collect --config data/axes/<id>/config.yaml --stage a|b`: upstream's axis config, a staged
screen (stage a screens two templates on one scenario per source; `psw build`; stage b takes the
winner from template_pair_scores and measures it over a pooled sample), and bad configs refused
in one line naming the field."""

from __future__ import annotations

import json
import os
import random
import re

import pytest

from collect_helpers import KEY_ENV, SECRET, q, run_cli, write_candidates
from fakeserver import FakeLLM, FakeServer, default_responder, first_prompt, is_generation

CONFIG = """\
# a hand-written axis config in upstream's schema (data/axes/<id>/config.yaml)
axis_id: kind_cold
pair: cand/pairs.jsonl
generator_model: gen/model
generator_provider_only: DeepInfra
judge_model: judge/style
axis_judge_models: [judge/one]
axis_judge_method: json
seed: 13
concurrency: 4
exclude_confound_dims: [honesty_truthfulness]
protocol: v3          # ours: upstream's configs are all anchored; v3 lets today's marts rank stage a
stage_a:
  templates: cand/templates.txt
  n_per_source: 1
  families:
    - cand/fam_a.jsonl
    - cand/fam_b.jsonl
stage_b:
  templates: cand/not_read_winner.yaml
  n: 4
  families:
    - cand/fam_a.jsonl
    - cand/fam_b.jsonl
"""


def favour_variant_1(body):
    """Axis judges see the poles differ on the target only under template variant 1."""
    prompt = first_prompt(body)
    if is_generation(body) or "A_more_target_than_B" not in prompt or "off_axis_problem_likert" in prompt:
        return default_responder(body)
    a = re.search(r"Response A:\n<<<\n(.*?)\n>>>", prompt, re.S).group(1)
    if "variant 1." not in a:
        return json.dumps({"target_reason": "tied", "A_more_target_than_B": 3.0})
    a_is_target_pole = a.startswith("[You are a alpha") == ("helps people" in prompt)
    return json.dumps({"target_reason": "r", "A_more_target_than_B": 5.0 if a_is_target_pole else 1.0})


def write_config(d, text=CONFIG):
    write_candidates(d / "cand", n_templates=2, n_pairs=1, n_scenarios=1)
    for fam in ("a", "b"):
        rows = [{"id": f"{fam}{i}", "prompt": f"Family {fam} situation {i}: what now?", "source": f"src_{fam}"}
                for i in range(3)]
        (d / "cand" / f"fam_{fam}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "axes").mkdir(exist_ok=True)
    (d / "axes" / "config.yaml").write_text(text)
    return d / "axes" / "config.yaml"


def argv(db, server, config, stage):
    return ["--db", str(db), "collect", "--config", str(config), "--stage", stage, "--base-url", server.base_url,
            "--api-key-env", KEY_ENV, "--no-progress", "--timeout", "5"]


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    from psw.cli import main
    os.environ[KEY_ENV] = SECRET
    d = tmp_path_factory.mktemp("staged")
    config = write_config(d)
    server = FakeServer(FakeLLM(favour_variant_1)).start()
    db = d / "w.duckdb"
    try:
        cwd = os.getcwd()
        os.chdir(d / "axes")          # relative paths are found from the config's folder upwards
        try:
            codes = [run_cli(argv(db, server, config, "a")),
                     main(["--db", str(db), "build"]),
                     run_cli(argv(db, server, config, "b"))]
        finally:
            os.chdir(cwd)
        yield {"db": db, "codes": codes}
    finally:
        server.stop()
        os.environ.pop(KEY_ENV, None)


def upstream_sample(families: list[list[str]], n_per_source: int, seed: int) -> list[str]:
    """upstream's _select_rows(n_per_source=...), written out: one RNG, each family shuffled and
    cut, then the picks shuffled."""
    rng = random.Random(seed)
    picked = []
    for family in families:
        family = list(family)
        rng.shuffle(family)
        picked += family[:n_per_source]
    rng.shuffle(picked)
    return picked


def test_stage_a_screens_every_template_on_one_scenario_per_source(staged):
    assert staged["codes"] == [0, 0, 0]
    rows = q(staged["db"], "select distinct template_text, scenario_id, row_idx from raw.pairs "
                          "where measurement_id = 'kind_cold-stage-a/gen/model' order by 1, 3")
    expected = upstream_sample([["a0", "a1", "a2"], ["b0", "b1", "b2"]], 1, 13)
    for variant in (0, 1):
        assert [(s, r) for t, s, r in rows if f"variant {variant}." in t] == [(s, i) for i, s in enumerate(expected, 1)]
    (params,) = q(staged["db"], "select params from raw.measurements where measurement_id like 'kind_cold-stage-a%'")[0]
    params = json.loads(params)
    assert (params["seed"], params["judges"], params["style_judge"], params["staged"]["stage"],
            params["n_per_source"]) == (13, ["judge/one"], "judge/style", "a", 1)


def test_stage_b_measures_stage_as_winner_over_the_pool(staged):
    db = staged["db"]
    ranked = q(db, "select template_text, strict_pass_rate, mean_axis_delta from template_pair_scores "
                   "where measurement_id = 'kind_cold-stage-a/gen/model' order by strict_pass_rate desc")
    assert "variant 1." in ranked[0][0] and ranked[0][1] == 1.0 and ranked[1][1] == 0.0
    rows = q(db, "select distinct template_text, scenario_id from raw.pairs "
                 "where measurement_id = 'kind_cold-stage-b/gen/model'")
    assert {t for t, _ in rows} == {ranked[0][0]}                       # the winner only
    pool = ["a0", "a1", "a2", "b0", "b1", "b2"]
    order = list(range(6))
    random.Random(13).shuffle(order)                                      # upstream's pooled --n 4
    assert sorted(s for _, s in rows) == sorted(pool[i] for i in order[:4])


BAD = [
    ("pair: cand/pairs.jsonl\n", "field generator_model: required"),
    (CONFIG.replace("seed: 13", "seed: thirteen"), "field seed: expected an integer"),
    (CONFIG.replace("concurrency: 4", "concurency: 4"), "field concurency: not an axis config field"),
    (CONFIG.replace("  n_per_source: 1\n", "  n_per_source: 1\n  n: 2\n"), "field stage_a: give exactly one of"),
    (CONFIG.replace("cand/fam_b.jsonl", "cand/missing.jsonl", 1), "field stage_a.families[1]: cand/missing.jsonl: no such file"),
    (CONFIG.replace("axis_judge_models: [judge/one]", "axis_judge_models: []"), "field axis_judge_models: at least one"),
    (CONFIG.replace("axis_judge_method: json", "axis_judge_method: vibes"), "field axis_judge_method: 'vibes'"),
    (CONFIG.replace("exclude_confound_dims: [honesty_truthfulness]", "exclude_confound_dims: [honesty]")
     .replace("protocol: v3", "protocol: anchored"), "--exclude-confound-dims: unknown off-axis category honesty"),
    ("base: &b {pair: x}\nother: *b\n", "aliases are not allowed"),
    ("- just\n- a list\n", "an axis config is a YAML mapping"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_bad_config_is_one_line_naming_the_field(tmp_path, fake, secret, capfd, text, message):
    config = write_config(tmp_path, text)
    assert run_cli(argv(tmp_path / "w.duckdb", fake, config, "a")) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert fake.llm.requests == 0 and not (tmp_path / "w.duckdb").exists()


def test_stage_b_before_stage_a_is_built_is_one_line(tmp_path, fake, secret, capfd):
    config = write_config(tmp_path)
    assert run_cli(argv(tmp_path / "w.duckdb", fake, config, "b")) == 2
    assert "run --stage a, then `psw build`" in capfd.readouterr().err


def test_an_upstream_config_screens_with_the_anchored_protocol(tmp_path, secret):
    """upstream's configs say nothing of a protocol: they are anchored, with their judge settings."""
    from fake_anchored import BoundedJudge
    text = (CONFIG.replace("protocol: v3          # ours: upstream's configs are all anchored; v3 lets today's "
                           "marts rank stage a\n", "")
            .replace("axis_judge_method: json", "axis_judge_method: bounded_thinking\naxis_judge_n: 3\n"
                                                "axis_judge_budget: 128"))
    assert "protocol" not in text
    config = write_config(tmp_path, text)
    server = FakeServer(FakeLLM(BoundedJudge())).start()
    try:
        assert run_cli(argv(tmp_path / "w.duckdb", server, config, "a")) == 0
    finally:
        server.stop()
    (params,) = q(tmp_path / "w.duckdb", "select params from raw.measurements")[0]
    params = json.loads(params)
    assert (params["protocol"], params["axis_judge_method"], params["axis_judge_n"], params["axis_judge_budget"],
            params["exclude_confound_dims"], params["style_judge"]) == \
        ("anchored", "bounded_thinking", 3, 128, ["honesty_truthfulness"], "judge/style")
    samples = {len(json.loads(o)["samples"]) for (o,) in q(
        tmp_path / "w.duckdb", "select output from raw.judgments where criterion = 'pos_base_forward'")}
    assert samples == {3}
