"""psw's selection by name (warehouse/dbt_selector.py) selects what dbt's own does: on the project's
manifest, for every name a node's fqn holds and names it does not, over every node and over a part
of them; and on made-up fqns (versioned models, dotted names) for the names they match."""

from __future__ import annotations

import random

from dbt.graph.selector_methods import QualifiedNameSelectorMethod

from psw.cli import main
from tests.conftest import copy_warehouse
from warehouse import dbt_runner, dbt_selector


def _dbts_own():
    return dbt_selector._dbts_search or QualifiedNameSelectorMethod.__dict__["search"]


def test_every_name_selects_what_dbts_search_selects(pilot_db, tmp_path, monkeypatch):
    monkeypatch.setattr(dbt_runner, "_manifests", {})
    db = copy_warehouse(pilot_db, tmp_path / "warehouse.duckdb")
    # a build that excludes by name: what psw's full builds do (warehouse/empty_models.py)
    assert main(["--db", str(db), "build", "--force", "--select", "stg_raw__measurements+",
                 "--exclude", "layer_choice", "test_name:guarantees"]) == 0
    (manifest,) = dbt_runner._manifests.values()
    method = QualifiedNameSelectorMethod(manifest, None, [])
    everything = set(manifest.nodes) | set(manifest.sources) | set(manifest.unit_tests)
    part = set(random.Random(5).sample(sorted(everything), len(everything) // 3))
    names = {segment for node in manifest.nodes.values() for segment in node.fqn}
    names |= {"not_a_model", "marts.core", "int_*", "persona_steering_warehouse.marts", "*"}
    assert {"persona_steering_warehouse", "marts", "template_scores", "layer_choice"} <= names
    matched = 0
    for included in (everything, part):
        for name in sorted(names):
            ours = set(dbt_selector.search(method, included, name))
            assert ours == set(_dbts_own()(method, included, name)), name
            matched += bool(ours)
    assert matched > 100
    assert QualifiedNameSelectorMethod.search is dbt_selector.search   # the build installed it


class _Node:
    def __init__(self, fqn, is_versioned=False):
        self.fqn, self.is_versioned = fqn, is_versioned


class _Manifest:
    def __init__(self, nodes):
        self.nodes = nodes
        self.exposures = self.metrics = self.unit_tests = self.semantic_models = {}
        self.saved_queries = self.functions = self.sources = {}


def test_versioned_and_dotted_fqns_match_the_names_dbt_matches():
    nodes = {
        "model.pkg.orders.v2": _Node(["pkg", "marts", "orders", "v2"], is_versioned=True),
        "model.pkg.dotted": _Node(["pkg", "staging.raw", "dotted.name"]),
        "model.other.thing": _Node(["other", "thing"]),
        "seed.pkg.prices": _Node(["pkg", "prices"]),
    }
    method = QualifiedNameSelectorMethod(_Manifest(nodes), None, [])
    names = ["pkg", "marts", "orders", "v2", "orders_v2", "staging", "raw", "dotted", "name", "other",
             "thing", "prices", "nothing", "staging.raw", "orders.v2", "pri*"]
    for name in names:
        assert set(dbt_selector.search(method, set(nodes), name)) == set(_dbts_own()(method, set(nodes), name)), name
    assert set(dbt_selector.search(method, set(nodes), "orders_v2")) == {"model.pkg.orders.v2"}
    assert set(dbt_selector.search(method, set(nodes), "staging")) == {"model.pkg.dotted"}
    # a node added to the same manifest object (as `dbt show --inline` does) is found
    nodes["model.pkg.late"] = _Node(["pkg", "late"])
    assert set(dbt_selector.search(method, set(nodes), "late")) == {"model.pkg.late"}
