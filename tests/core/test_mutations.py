"""The mutation property test (issue 21, part 2): no record that loads can break a build.

Every field of a valid v2 export record, a v3 export record, a pilot run artifact and a v3 run
artifact is mutated (wrong type, out of range, null, absent, empty string, huge, duplicated key,
duplicated list entry). Each mutant goes into its own file and measurement. Each is either
refused at ingest, naming where (file:line, or the artifact's results[i] / field), or it loads.
Every mutant that loaded sits in one warehouse, and one `psw build` over all of them must pass:
its models and every data test. (One warehouse, one build: the test costs one build.)
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ingest.loader import ingest_file
from psw.cli import main
from tests.conftest import REFERENCE, ROOT
from warehouse.db import connect
from warehouse.errors import UserError

V2 = json.loads((REFERENCE / "v2_pilot_seed23_examples.jsonl").open().readline())
# fields that repeat one shape (style dimensions, off-axis categories): two of each are mutated
FAMILIES = (("style_delta_", ""), ("off_axis_", ""), ("", "_A"), ("", "_B"), ("", "_likert"))
HUGE_TEXT = "x" * 200_000
ABSENT = object()


def _v3_record() -> dict:
    from tests.core.test_v3_export import RECORDS
    return copy.deepcopy(RECORDS[0])


def _pilot_artifact() -> dict:
    doc = json.loads((ROOT / "data" / "demo" / "demo_run_artifact.json").read_text())
    return {**doc, "results": doc["results"][:1]}


def _v3_artifact() -> dict:
    from tests.core.test_v3_artifact import J1, J2, SPECS, STYLE_JUDGE, result
    return {"generator_model": "gen/x", "judge_model": STYLE_JUDGE, "style_judge_model": STYLE_JUDGE,
            "axis_judge_models": [J1, J2], "gen_temperature": 0.0, "seed": 7, "results": [result(SPECS[0])]}


def _paths(value, prefix=(), depth=0):
    """Leaf and container paths (dict keys; a list's first entry), a few of each repeated family."""
    if depth > 3:
        return
    if isinstance(value, dict):
        seen: dict[str, int] = {}
        for key, child in value.items():
            family = next((f for f in FAMILIES if key.startswith(f[0]) and key.endswith(f[1])), None)
            if family:
                seen[family] = seen.get(family, 0) + 1
                if seen[family] > 2:
                    continue
            yield (*prefix, key)
            yield from _paths(child, (*prefix, key), depth + 1)
    elif isinstance(value, list) and value:
        yield (*prefix, 0)
        yield from _paths(value[0], (*prefix, 0), depth + 1)


def _mutations(value) -> list:
    out = [None, ABSENT, ""]
    if isinstance(value, bool):
        out += ["yes"]
    elif isinstance(value, (int, float)):
        out += ["abc", 1.5, -1e9, 2**70]
    elif isinstance(value, str):
        out += [123, {"a": 1}, HUGE_TEXT, " "]
    elif isinstance(value, list):
        out += [{"a": 1}, [], [*value, *value[:1]], [None]]
    elif isinstance(value, dict):
        out += [[1], {}]
    return out


def _set(obj, path, new):
    holder = obj
    for key in path[:-1]:
        holder = holder[key]
    if new is ABSENT:
        if isinstance(holder, dict):
            del holder[path[-1]]
        else:
            holder.pop(path[-1])
    else:
        holder[path[-1]] = new


def _get(obj, path):
    for key in path:
        obj = obj[key]
    return obj


def _mutants(base: dict, root=()):
    """(label, mutated object, text or None) for every path under `root` and every mutation."""
    for path in _paths(_get(base, root), root):
        for new in _mutations(_get(base, path)):
            mutant = copy.deepcopy(base)
            _set(mutant, path, new)
            yield f"{'.'.join(map(str, path))}={'ABSENT' if new is ABSENT else json.dumps(new)[:20]}", mutant, None
        if isinstance(path[-1], str):  # the same key twice in one object, the second value different
            text = json.dumps(base)
            holder = _get(base, path[:-1])
            twin = json.dumps(holder)
            doubled = twin[:-1] + f", {json.dumps(path[-1])}: {json.dumps(_mutations(holder[path[-1]])[-1])}}}"
            if twin in text:
                yield f"{'.'.join(map(str, path))}=DUPLICATE KEY", None, text.replace(twin, doubled, 1)


def _unique(record: dict, label: str, n: int) -> dict:
    """Give a mutant its own pair: its template gets a suffix (its prompt, when the template is what
    was mutated), so no two mutants collide on a pair key."""
    if not isinstance(record, dict):
        return record
    field = "prompt" if label.split(".")[-1].startswith(("template=", "template.")) or \
        label.startswith("template") else "template"
    if isinstance(record.get(field), str):
        record[field] = f"{record[field]} [m{n}]"
    return record


def _ingest(con, path: Path, kind: str, measurement: str):
    """(loaded?, the places named by its rejects, rejects not naming a place)."""
    try:
        report = ingest_file(con, path, kind, measurement)
    except UserError as exc:
        return False, [], [] if str(path) in str(exc) else [str(exc)]
    unplaced = [r.reason for r in report.rejects
                if r.line_no is None and not r.reason.startswith(("results[", "field ", "duplicate key"))]
    return not report.rejects, report.rejects, unplaced


def test_every_mutant_is_refused_with_its_place_or_builds(tmp_path):
    """Mutants of one kind share a file (a line, or an artifact result, each): ingest names each
    refused one (file:line, results[i]); the rest are loaded again as one file, which must load
    whole. Mutants that cannot share a file (an artifact's run fields, a duplicated key in an
    artifact) get a file each. Then one build over everything that loaded."""
    db = tmp_path / "warehouse.duckdb"
    unplaced, n_loaded, n_refused = [], 0, 0
    with connect(db) as con:
        for name, base in (("v2", V2), ("v3", _v3_record())):
            labelled = [(label, text if text is not None else json.dumps(_unique(mutant, label, i)))
                        for i, (label, mutant, text) in enumerate(_mutants(base))]
            path = tmp_path / f"{name}_mutants_examples.jsonl"
            path.write_text("".join(text + "\n" for _, text in labelled))
            _, rejects, bad = _ingest(con, path, "examples", f"{name}_mutants")
            unplaced += bad
            refused = {r.line_no for r in rejects if r.line_no is not None}
            assert len(refused) == len({r.line_no for r in rejects}), "an examples reject without its line"
            kept = [text for line, (_, text) in enumerate(labelled, start=1) if line not in refused]
            n_refused += len(refused)
            again = tmp_path / f"{name}_loaded_examples.jsonl"
            again.write_text("".join(text + "\n" for text in kept))
            ok, rejects, _ = _ingest(con, again, "examples", f"{name}_loaded")
            assert ok, f"mutants that passed the checks did not load together: {[r.reason for r in rejects][:3]}"
            n_loaded += len(kept)
        for name, doc in (("pilot_artifact", _pilot_artifact()), ("v3_artifact", _v3_artifact())):
            result = doc["results"][0]
            results, singles = [], []
            for i, (label, mutant, text) in enumerate(_mutants(doc, ("results", 0))):
                if text is None:
                    results.append(_unique(mutant["results"][0], label.removeprefix("results.0."), i))
                else:
                    singles.append(text)
            for label, mutant, text in _mutants({k: v for k, v in doc.items() if k != "results"}):
                singles.append(text if text is not None else json.dumps({**mutant, "results": [result]}))
            path = tmp_path / f"{name}_mutants.json"
            path.write_text(json.dumps({**doc, "results": results}))
            _, rejects, bad = _ingest(con, path, "artifact", f"{name}_mutants")
            unplaced += bad
            refused = {int(r.reason.split("]")[0].removeprefix("results[")) for r in rejects}
            kept = [r for i, r in enumerate(results) if i not in refused]
            n_refused += len(refused)
            again = tmp_path / f"{name}_loaded.json"
            again.write_text(json.dumps({**doc, "results": kept}))
            ok, rejects, _ = _ingest(con, again, "artifact", f"{name}_loaded")
            assert ok, f"results that passed the checks did not load together: {[r.reason for r in rejects][:3]}"
            n_loaded += len(kept)
            for j, text in enumerate(singles):
                single = tmp_path / f"{name}_single_{j}.json"
                single.write_text(text)
                ok, _, bad = _ingest(con, single, "artifact", f"{name}_single_{j}")
                unplaced += bad
                n_loaded, n_refused = n_loaded + ok, n_refused + (not ok)
    assert not unplaced, f"refused without naming where: {unplaced[:5]}"
    assert n_refused > 100 and n_loaded > 100, (n_refused, n_loaded)
    rc = main(["--db", str(db), "build"])
    assert rc == 0, f"a build over {n_loaded} loaded mutants failed ({n_refused} refused)"


@pytest.mark.parametrize("kind, base", [("examples", "v3"), ("artifact", "v3")])
def test_one_axis_judgment_per_judge_per_pair(psw, tmp_path, kind, base):
    if kind == "examples":
        record = _v3_record()
        record["axis_judgments"].append(copy.deepcopy(record["axis_judgments"][0]))
        path = tmp_path / "twice_examples.jsonl"
        path.write_text(json.dumps(record) + "\n")
        where = f"{path}:1: field axis_judgments: judge judge/one appears twice"
    else:
        doc = _v3_artifact()
        judges = doc["results"][0]["axis_judgments"]
        judges.append(copy.deepcopy(judges[0]))
        path = tmp_path / "twice_artifact.json"
        path.write_text(json.dumps(doc))
        where = "results[0]: axis_judgments[2]: judge 'judge/one' already judged this pair at axis_judgments[0]"
    rc, _, err = psw("ingest", path)
    assert rc == 2 and where in err, err
