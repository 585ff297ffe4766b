"""One price table and one rule for a call's cost: the run summary, the dry-run estimate and the
`costs` mart (the summary and the mart agree on a real run in test_e2e_build.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collect.estimate import _priced, _Tally, describe
from collect.prices import call_cost, prices
from warehouse.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
MODEL_FLAGS = re.compile(r"--(?:generator|judge|generator-model|judge-model)[ =]([\w.-]+/[\w.:-]+)")


def test_the_price_table_covers_every_model_the_readmes_and_examples_use():
    texts = [path.read_text() for path in [ROOT / "README.md", *ROOT.glob("*/README.md"), ROOT / "psw" / "cli.py"]]
    used = {model for text in texts for model in MODEL_FLAGS.findall(text)}
    assert {"qwen/qwen3.5-27b", "google/gemini-3.1-flash-lite-preview"} <= used  # the pattern finds them
    assert used - set(prices()) == set()


def test_the_rule_is_the_reported_cost_else_tokens_at_the_price():
    table = {"m": (2.0, 8.0)}
    assert call_cost(table, "m", 1000, 500, reported=0.5) == 0.5
    assert call_cost(table, "m", 1000, 500, reported=0.0) == 0.0  # a free call stays free
    assert call_cost(table, "m", 1000, 500) == (1000 * 2.0 + 500 * 8.0) / 1e6
    assert call_cost(table, "other", 1000, 500) is None


def test_an_estimate_names_each_model_without_a_price_and_where_to_add_one():
    tally = _Tally()
    for model in ("priced/m", "new/a", "new/b"):
        tally.add(model, 4000, 100)
    text = describe(_priced(tally, {"priced/m": (1.0, 1.0)}, 1))
    assert re.search(r"  new/a: 1 calls, .* no price", text) and "priced/m: 1 calls, ~1,000 + ~100 tokens, ~$0.0011" in text
    last = text.splitlines()[-1]
    assert "leaves out 2 model(s) without a price: new/a, new/b" in last
    assert "add a line `model,prompt_usd_per_mtok,completion_usd_per_mtok,note` to dbt/seeds/model_prices.csv" in last


@pytest.mark.parametrize(("line", "reason"), [
    ('openai/gpt-4o,9.99,9.99,"a second price"', "openai/gpt-4o is priced twice (one line per model)"),
    ('new/model,abc,1.0,""', "prompt_usd_per_mtok = 'abc': not a price (a number >= 0, USD per million tokens)"),
    ('new/model,1.0,-2,""', "completion_usd_per_mtok = '-2': not a price (a number >= 0, USD per million tokens)"),
    ('new/model,,1.0,""', "prompt_usd_per_mtok = '': not a price (a number >= 0, USD per million tokens)"),
    (',1.0,1.0,""', "no model id"),
])
def test_a_price_line_the_table_cannot_hold_is_refused_naming_its_line(tmp_path, line, reason):
    """model_prices.csv is yours to edit: collect's estimate and run summary read it as the build's
    seed does, and refuse the same lines (the seed's guarantees: tests/core/test_build_guarantees.py)."""
    edited = tmp_path / "model_prices.csv"
    text = (ROOT / "dbt" / "seeds" / "model_prices.csv").read_text()
    edited.write_text(text + line + "\n")
    with pytest.raises(UserError) as refused:
        prices(edited)
    assert str(refused.value) == f"{edited}:{len(text.splitlines()) + 1}: {reason}"


def test_a_price_table_without_a_price_column_is_refused(tmp_path):
    edited = tmp_path / "model_prices.csv"
    edited.write_text("model,prompt_usd_per_mtok,note\nm,1.0,\n")
    with pytest.raises(UserError, match=r":1: no column completion_usd_per_mtok \(the header is "):
        prices(edited)
