"""psw's graph summary (warehouse/dbt_graph.py) is dbt's own, byte for byte as graph_summary.json
holds it, on the project's manifest: the linked graph and the graph with test edges (a build's)."""

from __future__ import annotations

import json

from dbt.compilation import Linker

from psw.cli import main
from tests.conftest import copy_warehouse
from warehouse import dbt_runner
from warehouse.dbt_graph import graph_summary

DBTS_OWN = Linker.__dict__["get_graph_summary"]   # as collected, before any build installs psw's


def test_the_summary_is_dbts_with_and_without_test_edges(pilot_db, tmp_path, monkeypatch):
    monkeypatch.setattr(dbt_runner, "_manifests", {})
    db = copy_warehouse(pilot_db, tmp_path / "warehouse.duckdb")
    assert main(["--db", str(db), "build", "--force", "--select", "stg_raw__measurements"]) == 0
    (manifest,) = dbt_runner._manifests.values()   # the project's, as the build had it
    linker = Linker()
    linker.link_graph(manifest)
    linked = json.dumps(DBTS_OWN(linker, manifest))
    assert json.dumps(graph_summary(linker, manifest)) == linked
    manifest.build_parent_and_child_maps()
    linker.add_test_edges(manifest)
    with_tests = json.dumps(DBTS_OWN(linker, manifest))
    assert json.dumps(graph_summary(linker, manifest)) == with_tests != linked
    kinds = {node["type"] for node in json.loads(with_tests).values()}
    assert {"model", "seed", "test", "source"} <= kinds and all(isinstance(k, str) for k in kinds)
