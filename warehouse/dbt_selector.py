"""dbt's node selection by name, from an index of the manifest instead of a pass over every node per name.

A full `psw build` leaves out the models warehouse/empty_models.py made (`--exclude` with ~20 model
names, and `test_name:guarantees`). dbt selects each bare name (its `fqn` method) by matching it
against every node's fully qualified name, ~300 nodes a name, three times a build: ~0.16 s of
dbt's setup in the main thread, before any node runs (cProfile of a served pilot build,
2026-12-05; `QualifiedNameSelectorMethod.search`).

A bare name, one without a dot or a wildcard, matches a node when it is the node's own name, its
package's or its first folder's (dbt's `is_selected_node`, on the node's fqn and on its fqn without
the package; for a versioned model also its name without the version, or name and version joined
by `_`). `plain_names` lists those for a node; `search` keeps them in an index per manifest and
answers a bare name from it. Any other selector (dotted paths, wildcards) goes to dbt's own search.
tests/core/test_dbt_selector.py compares both on the project's manifest for every name it holds.
"""

from __future__ import annotations

from typing import Iterator

_WILDCARDS = ("*", "?", "[", "]")
# the manifest's collections that dbt's `non_source_nodes` reads
_KINDS = ("nodes", "exposures", "metrics", "unit_tests", "semantic_models", "saved_queries", "functions")
# the manifest the index was made from (held, so that its id cannot be reused), its node counts then
# (`dbt show --inline` adds a node to a kept manifest) and the index: bare name -> the unique ids of
# the non-source nodes it selects
_index: tuple[object, tuple[int, ...], dict[str, list[str]]] | None = None
_dbts_search = None


def is_plain(selector: str) -> bool:
    return "." not in selector and not any(w in selector for w in _WILDCARDS)


def plain_names(fqn: list[str], is_versioned: bool) -> set[str]:
    """The bare names (no dot, no wildcard) that dbt's `QualifiedNameSelectorMethod.node_is_match`
    matches with this fqn."""
    names = set()
    for parts in (fqn, fqn[1:]):   # the fqn, and the fqn without its package
        if not parts:
            continue
        if is_versioned:
            if len(parts) >= 2:
                names.add(parts[-2])
            names.add("_".join(parts[-2:]))
        else:
            names.add(parts[-1])
        # the selector's one part equals the flattened fqn's first
        names.add(parts[0].split(".")[0])
    return {name for name in names if is_plain(name)}


def _index_of(method) -> dict[str, list[str]]:
    global _index
    manifest = method.manifest
    counts = tuple(len(getattr(manifest, kind)) for kind in _KINDS)
    if _index is None or _index[0] is not manifest or _index[1] != counts:
        index: dict[str, list[str]] = {}
        for unique_id, node in method.non_source_nodes(_Everything()):
            for name in plain_names(node.fqn, node.is_versioned):
                index.setdefault(name, []).append(unique_id)
        _index = (manifest, counts, index)
    return _index[2]


class _Everything:
    """`included_nodes` that holds every node (the index lists them all; search filters afterwards)."""

    def __contains__(self, _unique_id) -> bool:
        return True


def search(self, included_nodes, selector: str) -> Iterator[str]:
    """`QualifiedNameSelectorMethod.search`: the included non-source nodes that `selector` names."""
    if not is_plain(selector):
        yield from _dbts_search(self, included_nodes, selector)
        return
    for unique_id in _index_of(self).get(selector, ()):
        if unique_id in included_nodes:
            yield unique_id


def install() -> None:
    """Use `search` in dbt's selection by name for this process."""
    global _dbts_search
    from dbt.graph.selector_methods import QualifiedNameSelectorMethod

    if QualifiedNameSelectorMethod.__dict__["search"] is not search:
        _dbts_search = QualifiedNameSelectorMethod.__dict__["search"]
        QualifiedNameSelectorMethod.search = search
