"""`make setup` warms dbt's caches (psw/warm.py): a build of a warehouse whose raw tables are all
empty keeps the record of the models that read only empty tables, and a checkout's first real build
then makes those from it instead of running them in dbt. Warming never fails a setup."""

from __future__ import annotations

import json

import pytest

from psw import warm
from warehouse import empty_models

from tests.core.test_empty_models import EXAMPLES, _models_run


def test_a_warmed_checkouts_first_build_leaves_the_empty_models_to_the_record(psw, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(empty_models, "KEPT_DIR", tmp_path / "kept")
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")   # as `make setup` runs it
    assert warm.main() == 0
    out, err = capsys.readouterr()
    assert "caches made" in out and not err
    (kept,) = (tmp_path / "kept").iterdir()
    names = {m["name"] for m in json.loads(kept.read_text())["models"]}
    assert {"costs", "trait_geometry", "selections", "int_judgments_unblinded", "model_prices",
            "judge_dimensions"} <= names

    monkeypatch.delenv("DBT_SEND_ANONYMOUS_USAGE_STATS")   # a researcher's shell, without make's setting
    assert psw("ingest", EXAMPLES)[0] == 0
    rc, _, err = psw("build")
    assert rc == 0, err
    ran = _models_run(psw.db)
    assert "template_pair_scores" in ran and "int_exported_pairs" in ran   # what reads the pairs: dbt builds it
    assert not {"costs", "trait_geometry", "selections", "int_judgments_unblinded", "model_prices"} & ran


@pytest.mark.parametrize("failure", ["build", "exception"])
def test_warming_that_fails_says_so_in_one_line_and_never_fails_the_setup(failure, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(empty_models, "KEPT_DIR", tmp_path / "kept")
    if failure == "build":
        monkeypatch.setattr("psw.cli.main", lambda argv: 1)
    else:
        def refuse(path, *args, **kwargs):
            raise OSError(28, "No space left on device")
        monkeypatch.setattr("warehouse.db.connect", refuse)
    assert warm.main() == 0
    out, err = capsys.readouterr()
    assert not out and len(err.strip().splitlines()) == 1
    assert err.startswith("warning: dbt's caches were not made (")
    assert ("the build failed" if failure == "build" else "No space left on device") in err
    assert not (tmp_path / "kept").exists()
