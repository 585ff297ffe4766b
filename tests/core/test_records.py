"""One record, one life (issue 21): each load owns its rows, identity over the parsed record,
exact types and one error rule, templates and blank lines.

The parts' named tests:
- part 3: test_forget_b_leaves_every_mart_as_if_only_a_and_c_were_loaded (forget equivalence),
  test_forget_keeps_what_another_live_load_holds
- part 4: test_record_ids_are_separator_safe, test_reserialised_json_is_the_same_record,
  test_duplicate_json_keys_are_refused, test_metadata_that_disagrees_is_refused_naming_both_loads
- part 5: test_integer_fields_are_exact, test_string_fields_refuse_objects, test_one_error_rule_for_every_kind
- part 7: test_templates_refuse_json_lines, test_blank_lines_are_counted
"""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from tests.conftest import REFERENCE, ROOT

EXAMPLES = [json.loads(line) for line in (REFERENCE / "v2_pilot_seed23_examples.jsonl").open()]
PAIRS = [json.loads(line) for line in (REFERENCE / "persona_pairs_v2_candidates.jsonl").open()]
TEMPLATES = [t for t in (REFERENCE / "templates_v2_candidates.txt").read_text().splitlines() if t.strip()]
STATS = REFERENCE / "v2_pilot_seed23_template_pair_stats.jsonl"
DEMO_ARTIFACT = ROOT / "data" / "demo" / "demo_run_artifact.json"


def write(path, records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def rows(db, sql, params=()):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def load_id(out: str) -> str:
    return out.split("[load ")[1].split("]")[0]


def demo_doc() -> dict:
    return json.loads(DEMO_ARTIFACT.read_text())


# --- part 3: each load owns its rows ----------------------------------------------------------

def _marts(db) -> dict[str, list]:
    """Every mart's rows, sorted, without the columns that only say when something was loaded or
    built (timestamps, measurement versions), floats to 9 significant digits."""
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [t for (t,) in con.execute("select table_name from information_schema.tables "
                                            "where table_schema = 'main' and table_type = 'BASE TABLE' "
                                            "order by 1").fetchall()]
        for table in tables:
            columns = [c for c, type_ in con.execute(
                "select column_name, data_type from information_schema.columns where table_schema = 'main' "
                "and table_name = ? order by ordinal_position", [table]).fetchall()
                if not type_.startswith("TIMESTAMP") and not c.endswith("_version")]
            listed = ", ".join(f'"{c}"' for c in columns)
            out[table] = sorted(repr(_rounded(row)) for row in con.execute(f'select {listed} from main."{table}"').fetchall())
    return out


def _rounded(value):
    """Floats to 9 significant digits: sums over rows in another order differ in the last bits."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def test_forget_b_leaves_every_mart_as_if_only_a_and_c_were_loaded(psw, tmp_path, capsys):
    """Load A, B, C (each overlapping the next: examples, persona pairs, templates, an artifact; B also
    brings published stats and re-serialises its records); forget B; every mart equals the marts of
    a warehouse that loaded only A and C."""
    from tests.conftest import Psw

    doc = demo_doc()
    results = doc["results"]
    third = len(results) // 3
    redefined = {**PAIRS[3], "pos": PAIRS[3]["pos"] + " (B's wording)"}
    files = {}
    for name, lo, hi in (("a", 0, 30), ("b", 20, 50), ("c", 40, 64)):
        dumps = (lambda r: json.dumps(r, sort_keys=True, indent=None, separators=(", ", ": "))) if name == "b" \
            else json.dumps
        folder = tmp_path / name
        folder.mkdir()
        pairs = {"a": PAIRS, "b": [*PAIRS[:8], redefined, {"id": "b_only", "pos": "p", "neg": "n"}], "c": PAIRS[4:]}[name]
        templates = {"a": TEMPLATES[:8], "b": TEMPLATES[4:], "c": TEMPLATES[6:]}[name]
        artifact = {**doc, "results": results[{"a": 0, "b": third, "c": 2 * third}[name]:
                                              {"a": 2 * third, "b": 3 * third, "c": len(results)}[name]]}
        files[name] = [write(folder / "pairs.jsonl", [dumps(p) for p in pairs]),
                       write(folder / "templates.txt", templates),
                       write(folder / "pilot_examples.jsonl", [dumps(r) for r in EXAMPLES[lo:hi]])]
        (folder / "demo_artifact.json").write_text(json.dumps(artifact))
        files[name].append(folder / "demo_artifact.json")
    shutil.copy(STATS, tmp_path / "b" / "pilot_template_pair_stats.jsonl")
    files["b"].append(tmp_path / "b" / "pilot_template_pair_stats.jsonl")

    meta = ["--judge-model", "google/gemini-3.1-flash-lite-preview", "--seed", "23"]
    b_loads = []
    for name in "abc":
        for path in files[name]:
            rc, out, err = psw("ingest", path, *meta)
            assert rc == 0, err
            if name == "b":
                b_loads.append(load_id(out))
    assert psw("build")[0] == 0
    for load in b_loads:
        assert psw("forget", "--load", load)[0] == 0
    rc, _, err = psw("build")
    assert rc == 0, err

    only = Psw(tmp_path / "only_a_c" / "warehouse.duckdb", capsys)
    for name in "ac":
        for path in files[name]:
            assert only("ingest", path, *meta)[0] == 0
    assert only("build")[0] == 0
    forgotten, reference = _marts(psw.db), _marts(only.db)
    assert forgotten.keys() == reference.keys()
    differ = [t for t in reference if forgotten[t] != reference[t]]
    assert not differ, f"marts that differ after forgetting B: {differ}"
    # the overlaps were really shared: A's and C's copies of B's records stayed
    assert rows(psw.db, "select count(*) from examples where measurement_id = 'pilot'") == [(54,)]  # 0..29, 40..63


def test_forget_keeps_what_another_live_load_holds(psw, tmp_path):
    a = write(tmp_path / "a_examples.jsonl", EXAMPLES[:9])
    b = write(tmp_path / "b_examples.jsonl", EXAMPLES[3:9])
    rc, out_a, _ = psw("ingest", a, "--measurement", "run")
    assert rc == 0
    rc, out_b, _ = psw("ingest", b, "--measurement", "run")
    assert rc == 0 and "loaded 6 examples records (0 new)" in out_b
    rc, out, _ = psw("forget", "--load", load_id(out_a))
    assert rc == 0
    # B's six records stay (B is live); A's other three are gone
    assert rows(psw.db, "select count(distinct record_id) from raw.exported_pairs") == [(6,)]
    rc, out, _ = psw("ingest", b, "--measurement", "run")
    assert "already loaded" in out  # B is still loaded, whole
    rc, out, _ = psw("ingest", a, "--measurement", "run")
    assert rc == 0 and "loaded 9 examples records (3 new)" in out



def test_a_record_two_live_loads_hold_is_one_pair_after_a_build(psw, tmp_path):
    """Staging holds a record once however many live loads hold it (dbt/macros/held_once.sql), the
    earlier load's row; a measurement only one load brought has no earlier copies to look for."""
    a = write(tmp_path / "a_examples.jsonl", EXAMPLES[:9])
    b = write(tmp_path / "b_examples.jsonl", EXAMPLES[3:12])
    c = write(tmp_path / "c_examples.jsonl", EXAMPLES[:5])
    for path, measurement in ((a, "run"), (b, "run"), (c, "other")):
        assert psw("ingest", path, "--measurement", measurement)[0] == 0
    assert psw("build")[0] == 0
    assert rows(psw.db, "select measurement_id, count(*), count(distinct pair_id) from examples group by all order by 1") \
        == [("other", 5, 5), ("run", 12, 12)]
    assert rows(psw.db, "select count(*) from raw.exported_pairs where measurement_id = 'run'") == [(18,)]


# --- part 4: identity ---------------------------------------------------------------------------

def test_record_ids_are_separator_safe(psw, tmp_path):
    record = json.dumps(EXAMPLES[0])
    first = tmp_path / "one_examples.jsonl"
    first.write_text(" " + record + "\n")
    second = tmp_path / "two_examples.jsonl"
    second.write_text(record + "\n")
    assert psw("ingest", first, "--measurement", "m")[0] == 0
    rc, out, err = psw("ingest", second, "--measurement", "m ")
    assert rc == 0, err
    assert "(1 new)" in out
    assert rows(psw.db, "select count(distinct record_id) from raw.exported_pairs") == [(2,)]


def test_reserialised_json_is_the_same_record(psw, tmp_path):
    plain = write(tmp_path / "run_examples.jsonl", EXAMPLES[:5])
    again = write(tmp_path / "run_again_examples.jsonl",
                  [json.dumps(dict(reversed(list(r.items()))), ensure_ascii=True, indent=None, separators=(" , ", " : "))
                   for r in EXAMPLES[:5]])
    assert psw("ingest", plain)[0] == 0
    rc, out, err = psw("ingest", again, "--measurement", "run")
    assert rc == 0, err  # not "different content": the parsed records are equal
    assert "loaded 5 examples records (0 new)" in out
    assert rows(psw.db, "select count(distinct record_id) from raw.exported_pairs") == [(5,)]
    pairs = write(tmp_path / "pairs.jsonl", PAIRS)
    pairs_again = write(tmp_path / "pairs_again.jsonl", [json.dumps(p, sort_keys=True, ensure_ascii=True) for p in PAIRS])
    assert psw("ingest", pairs)[0] == 0
    rc, out, _ = psw("ingest", pairs_again)
    assert rc == 0 and "(0 new)" in out and "defined differently" not in out


def test_duplicate_json_keys_are_refused(psw, tmp_path):
    line = json.dumps(EXAMPLES[0])
    top = line[:-1] + ', "axis_delta": -8}'
    path = write(tmp_path / "dup_examples.jsonl", [json.dumps(EXAMPLES[1]), top])
    rc, _, err = psw("ingest", path)
    assert rc == 2 and f'{path}:2: duplicate key "axis_delta" in one object' in err
    pairs = tmp_path / "dup_pairs.jsonl"
    pairs.write_text('{"id": "p", "pos": "a", "neg": "b", "pos": "c"}\n')
    rc, _, err = psw("ingest", pairs)
    assert rc == 2 and f'{pairs}:1: duplicate key "pos"' in err
    from tests.core.test_v3_export import RECORDS
    v3 = json.dumps(RECORDS[0]).replace('"judge_model": "judge/one"', '"judge_model": "judge/one", "judge_model": "x"', 1)
    path = write(tmp_path / "dup_v3_examples.jsonl", [v3])
    rc, _, err = psw("ingest", path)
    assert rc == 2 and f'{path}:1: duplicate key "judge_model" in an object of axis_judgments' in err
    art = tmp_path / "dup_artifact.json"
    art.write_text(json.dumps(demo_doc()).replace('"seed": ', '"seed": 1, "seed": ', 1))
    assert '"seed": 1, "seed": ' in art.read_text()
    rc, _, err = psw("ingest", art)
    assert rc == 2 and "duplicate key 'seed' in one object" in err
    assert rows(psw.db, "select count(*) from raw.exported_pairs") == [(0,)]


def test_metadata_that_disagrees_is_refused_naming_both_loads(psw, tmp_path):
    first = write(tmp_path / "a_examples.jsonl", EXAMPLES[:4])
    second = write(tmp_path / "b_examples.jsonl", EXAMPLES[4:8])
    rc, out, _ = psw("ingest", first, "--measurement", "run", "--judge-model", "A", "--seed", "1")
    assert rc == 0
    first_load = load_id(out)
    rc, _, err = psw("ingest", second, "--measurement", "run", "--judge-model", "C", "--seed", "3")
    assert rc == 2
    assert f"load {first_load}" in err and str(second) in err and "judge_models C" in err
    assert "nothing is relabelled" in err
    assert rows(psw.db, "select judge_models, seed from raw.measurements") == [(["A"], 1)]
    # a load that says nothing, or the same, agrees
    assert psw("ingest", second, "--measurement", "run")[0] == 0
    third = write(tmp_path / "c_examples.jsonl", EXAMPLES[8:10])
    assert psw("ingest", third, "--measurement", "run", "--judge-model", "A", "--seed", "1")[0] == 0
    # an artifact's own metadata counts as its load's
    doc = demo_doc()
    art = tmp_path / "demo_artifact.json"
    art.write_text(json.dumps(doc))
    assert psw("ingest", art)[0] == 0
    other = tmp_path / "other_artifact.json"
    other.write_text(json.dumps({**doc, "seed": (doc.get("seed") or 0) + 1, "results": doc["results"][:1]}))
    rc, _, err = psw("ingest", other, "--measurement", "demo_artifact")
    assert rc == 2 and "gives seed" in err and "nothing is relabelled" in err


# --- part 5: exact types, one error rule -------------------------------------------------------

@pytest.mark.parametrize("value", [1.5, "abc", 2**70, True, -1])
def test_integer_fields_are_exact(psw, tmp_path, value):
    path = write(tmp_path / "int_examples.jsonl", [{**EXAMPLES[0], "sample": value}])
    rc, _, err = psw("ingest", path)
    assert rc == 2 and f"{path}:1: field sample: expected an integer" in err
    stats = write(tmp_path / "int_template_pair_stats.jsonl", [{**json.loads(STATS.open().readline()), "n": value}])
    rc, _, err = psw("ingest", stats)
    assert rc == 2 and f"{stats}:1: field n: expected an integer" in err
    doc = demo_doc()
    art = tmp_path / "seed_artifact.json"
    if value != -1:  # a seed may be negative
        art.write_text(json.dumps({**doc, "seed": value}))
        rc, _, err = psw("ingest", art)
        assert rc == 2 and "field seed: expected an integer" in err and "Traceback" not in err
    doc["results"][0]["sample"] = value
    art.write_text(json.dumps(doc))
    rc, _, err = psw("ingest", art)
    assert rc == 2 and "results[0]: field sample: expected an integer" in err
    assert rows(psw.db, "select count(*) from raw.measurements") == [(0,)]


@pytest.mark.parametrize("field, value", [("generator_model", {"a": 1}), ("temperature", "hot"),
                                          ("judge_models", "one judge"), ("temperature", float("inf"))])
def test_artifact_run_fields_are_exact(psw, tmp_path, field, value):
    art = tmp_path / "run_artifact.json"
    art.write_text(json.dumps({**demo_doc(), field: value}).replace("Infinity", "1e999"))
    rc, _, err = psw("ingest", art)
    assert rc == 2 and f"field {field}: expected" in err and "Traceback" not in err


def test_string_fields_refuse_objects(psw, tmp_path):
    for field in ("pos_generation_prompt", "likely_spurious_axis", "pos_response", "template"):
        path = write(tmp_path / "obj_examples.jsonl", [{**EXAMPLES[0], field: {"a": 1}}])
        rc, _, err = psw("ingest", path)
        assert rc == 2 and f"{path}:1: field {field}: expected a" in err, (field, err)
    doc = demo_doc()
    doc["results"][0]["pos_generation_prompt"] = {"a": 1}
    art = tmp_path / "obj_artifact.json"
    art.write_text(json.dumps(doc))
    rc, _, err = psw("ingest", art)
    assert rc == 2 and "results[0]: field pos_generation_prompt: expected a string" in err


@pytest.mark.parametrize("error, failed", [(None, False), ("", False), ("timeout", True), (0, True), (False, True),
                                           ({"code": 1}, True)])
def test_one_error_rule_for_every_kind(psw, tmp_path, error, failed):
    """null, absent or "" is a success (which must carry its metrics); anything else is a failure
    (which needs none) - in exported examples and in run artifacts alike."""
    bare = {k: v for k, v in EXAMPLES[0].items() if k not in ("axis_delta", "pos_response")}
    path = write(tmp_path / "err_examples.jsonl", [{**bare, "error": error}])
    rc, _, err = psw("ingest", path)
    assert (rc == 0) == failed, err
    doc = demo_doc()
    result = {k: v for k, v in doc["results"][0].items() if k != "pos_response"}
    doc["results"] = [{**result, "error": error}]
    art = tmp_path / "err_artifact.json"
    art.write_text(json.dumps(doc))
    rc, _, err = psw("ingest", art)
    assert (rc == 0) == failed, err
    if failed:
        stored = rows(psw.db, "select error from raw.pairs")
        assert stored == [(error if isinstance(error, str) else json.dumps(error),)]


# --- part 7: templates, blank lines ------------------------------------------------------------

def test_templates_refuse_json_lines(psw, tmp_path):
    path = write(tmp_path / "pairs.jsonl", [{"id": "p", "pos": "a {persona}", "neg": "b"}, {"template": "Be {persona}."}])
    rc, _, err = psw("ingest", path, "--kind", "templates")
    assert rc == 2 and f"{path}:1: a JSON value, not a template" in err
    assert rows(psw.db, "select count(*) from raw.templates") == [(0,)]
    quoted = write(tmp_path / "quoted.txt", ['"Be a {persona}."'])
    rc, _, err = psw("ingest", quoted, "--kind", "templates")
    assert rc == 2 and "a JSON value, not a template" in err
    fine = write(tmp_path / "templates.txt", ['{persona} says: "hello"', "Be a {persona} person."])
    assert psw("ingest", fine, "--kind", "templates")[0] == 0


def test_blank_lines_are_counted(psw, tmp_path):
    path = tmp_path / "spaced_examples.jsonl"
    path.write_text("\n" + json.dumps(EXAMPLES[0]) + "\n   \n\n" + json.dumps(EXAMPLES[1]) + "\n\n")
    rc, out, err = psw("ingest", path)
    assert rc == 0, err
    assert "loaded 2 examples records (2 new)" in out and "4 blank line(s) skipped" in out
    assert rows(psw.db, "select n_blank_lines, n_records from raw.loads") == [(4, 2)]
    assert sorted(rows(psw.db, "select line_no from raw.exported_pairs")) == [(2,), (5,)]
    templates = tmp_path / "templates.txt"
    templates.write_text("Be a {persona}.\n\n# a comment\n\nAct as {persona}.\n")
    rc, out, _ = psw("ingest", templates)
    assert rc == 0 and "2 blank line(s) skipped" in out and "1 comment line(s)" in out
