"""dbt's graph summary without serialising every node.

Each `dbt build` writes target/graph_summary.json (diagnostics: every node's name, type and
successors), whether or not `--no-write-json` is given. To learn a node's type, dbt's
`Linker.get_graph_summary` serialises the whole node (`to_dict`), twice per build for ~250 nodes,
and the first `to_dict` of each node class makes mashumaro generate and compile its serialiser:
~0.17 s of a ~3 s pilot build in a warm process (cProfile, 2026-12-03). `graph_summary` reads the
node's `resource_type` instead and returns the same dict; `install()` hands it to dbt for the
runs psw starts in its process (warehouse/dbt_runner.py). tests/core/test_dbt_graph.py compares it
with dbt's own on the project's manifest.
"""

from __future__ import annotations

from typing import Any


def graph_summary(self, manifest) -> dict[int, dict[str, Any]]:
    """`Linker.get_graph_summary`: {index: {"name", "type"[, "succ"]}} of each node of the graph."""
    index = {name: i for i, name in enumerate(self.graph)}
    summary = {}
    for name, i in index.items():
        kind = manifest.expect(name).resource_type
        summary[i] = {"name": name, "type": getattr(kind, "value", kind)}
        successors = [index[n] for n in self.graph.successors(name)]
        if successors:
            summary[i]["succ"] = successors
    return summary


def install() -> None:
    """Use `graph_summary` in dbt's linker for this process."""
    from dbt.compilation import Linker

    Linker.get_graph_summary = graph_summary
