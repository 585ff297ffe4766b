"""`psw export-selection` on the reference pilot: deterministic bytes, the filters, the manifest."""

from __future__ import annotations

import hashlib
import json

import duckdb
import pytest
from beyond_helpers import query

from hf.selection import keep_per_source, pole_messages
from tests.conftest import Psw
from warehouse.errors import UserError

FILES = ["dpo.jsonl", "steering.jsonl", "manifest.json"]


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_selection_bytes_are_identical_twice(pilot_db, tmp_path, capsys):
    psw = Psw(pilot_db, capsys)
    first, second = tmp_path / "a", tmp_path / "b"
    assert psw("export-selection", "--out", first)[0] == 0
    assert psw("export-selection", "--out", second)[0] == 0
    assert {f: (first / f).read_bytes() for f in FILES} == {f: (second / f).read_bytes() for f in FILES}
    before = (first / "dpo.jsonl").read_bytes()
    assert psw("export-selection", "--out", first)[0] == 0  # a previous selection is replaced whole
    assert (first / "dpo.jsonl").read_bytes() == before and sorted(p.name for p in first.iterdir()) == sorted(FILES)


def test_default_selection_is_the_strict_pairs_of_the_recommended_cells(pilot_db, tmp_path, capsys):
    rc, out, err = Psw(pilot_db, capsys)("export-selection", "--out", tmp_path / "sel")
    assert rc == 0, err
    expected = query(pilot_db, """
        select examples.pair_id from main.examples join main.template_pair_scores using (cell_id)
        where recommended and is_strict_pass order by examples.cell_id, examples.pair_id""")
    dpo = read_jsonl(tmp_path / "sel" / "dpo.jsonl")
    steering = read_jsonl(tmp_path / "sel" / "steering.jsonl")
    assert [r["id"] for r in dpo] == [r["id"] for r in steering] == [p for (p,) in expected] and dpo
    pair_id, scenario, pos, neg, template, pos_persona = query(pilot_db, """
        select pair_id, scenario_text, pos_response, neg_response, template_text, pos_persona
        from main.examples where pair_id = ?""", [dpo[0]["id"]])[0]
    assert dpo[0]["prompt"] == [{"role": "user", "content": scenario}]
    assert dpo[0]["chosen"] == [{"role": "assistant", "content": pos}]
    assert dpo[0]["rejected"] == [{"role": "assistant", "content": neg}]
    assert steering[0]["messages_origin"] == "reconstructed"  # the v2 export recorded no prompts
    assert steering[0]["positive"] == [{"role": "system", "content": template.replace("{persona}", pos_persona)},
                                       {"role": "user", "content": scenario},
                                       {"role": "assistant", "content": pos}]
    assert steering[0]["negative"][-1] == {"role": "assistant", "content": neg}
    assert {r["source"] for r in dpo} == {"synthetic"}  # the scenarios file's `source`

    manifest = json.loads((tmp_path / "sel" / "manifest.json").read_text())
    assert manifest["counts"]["written"] == len(dpo) and manifest["selection"]["strict_pass"] is True
    assert manifest["messages"]["origins"] == {"reconstructed": len(dpo)}
    assert manifest["measurements"][0]["generator_model"] == "qwen/qwen3.5-27b"
    for name in ("dpo.jsonl", "steering.jsonl"):
        data = (tmp_path / "sel" / name).read_bytes()
        assert manifest["files"][name] == {"sha256": hashlib.sha256(data).hexdigest(), "rows": len(dpo)}
    assert all(cell["recommended"] for cell in manifest["cells"])
    assert f"{len(dpo)} pairs from {len(manifest['cells'])} cells" in out


def test_filters_strict_and_quota(pilot_db, tmp_path, capsys, top_cell):
    psw = Psw(pilot_db, capsys)
    assert psw("export-selection", "--out", tmp_path / "all", "--cell", top_cell, "--no-strict")[0] == 0
    assert psw("export-selection", "--out", tmp_path / "one", "--cell", top_cell, "--no-strict",
               "--keep-per-source", "1")[0] == 0
    positive = query(pilot_db, "select count(*) from main.examples where cell_id = ? and axis_delta > 0 "
                               "and not is_error", [top_cell])[0][0]
    everything = read_jsonl(tmp_path / "all" / "dpo.jsonl")
    assert len(everything) == positive > 1 and not all(r["is_strict_pass"] for r in everything)
    [kept] = read_jsonl(tmp_path / "one" / "dpo.jsonl")  # one source ("synthetic"): one pair, the largest delta
    assert kept["axis_delta"] == max(r["axis_delta"] for r in everything)
    counts = json.loads((tmp_path / "one" / "manifest.json").read_text())["cells"][0]["counts"]
    assert counts == {"candidates": positive, "strict_pass": positive, "activation_agreement": positive,
                      "quota": 1, "written": 1}


def test_agreement_drops_the_pair_the_screening_flags(screened_db, planted_cell, planted_pair, tmp_path, capsys):
    psw = Psw(screened_db, capsys)
    assert psw("export-selection", "--out", tmp_path / "plain", "--cell", planted_cell, "--no-strict")[0] == 0
    rc, out, err = psw("export-selection", "--out", tmp_path / "agree", "--cell", planted_cell, "--no-strict",
                       "--agreement")
    assert rc == 0, err
    plain = [r["id"] for r in read_jsonl(tmp_path / "plain" / "dpo.jsonl")]
    agreed = [r["id"] for r in read_jsonl(tmp_path / "agree" / "dpo.jsonl")]
    assert planted_pair in plain and len(plain) == 4
    assert agreed == [p for p in plain if p != planted_pair]
    manifest = json.loads((tmp_path / "agree" / "manifest.json").read_text())
    [cell] = manifest["cells"]
    assert cell["counts"]["activation_agreement"] == 3 and cell["counts"]["no_activation_data"] == 0
    assert cell["screening_vector"]["layer"] in (0, 1, 2) and cell["screening_vector"]["recommendation_reason"]
    assert psw("export-selection", "--out", tmp_path / "l0", "--cell", planted_cell, "--no-strict",
               "--agreement", "--layer", "0")[0] == 0
    assert json.loads((tmp_path / "l0" / "manifest.json").read_text())["cells"][0]["screening_vector"]["layer"] == 0


@pytest.mark.parametrize("args, message", [
    (["--cell", "cell_nope"], "--cell cell_nope: no such cell"),
    (["--measurement", "nope"], "--measurement nope: not in this warehouse"),
    (["--keep-per-source", "0"], "--keep-per-source 0: must be at least 1"),
    (["--layer", "2"], "--layer 2: only with --agreement"),
    (["--agreement"], "have no recommended layer in layer_choice; run `psw extract vectors`"),
])
def test_bad_options_are_one_line_and_write_nothing(pilot_db, tmp_path, capsys, args, message):
    rc, out, err = Psw(pilot_db, capsys)("export-selection", "--out", tmp_path / "sel", *args)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "sel").exists()


def test_a_folder_that_is_not_a_selection_is_refused(pilot_db, tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    rc, _, err = Psw(pilot_db, capsys)("export-selection", "--out", tmp_path / "mine")
    assert rc == 2 and "not a previous selection" in err and (tmp_path / "mine" / "notes.txt").exists()


@pytest.mark.parametrize("stored", [
    "to_json([{'role': 'system', 'content': 'Be ' || pos_persona}, {'role': 'user', 'content': scenario_text}])",
    "[{'role': 'system', 'content': 'Be ' || pos_persona}, {'role': 'user', 'content': scenario_text}]",
    "to_json([{'role': 'system', 'content': 'Be ' || pos_persona}, {'role': 'user', 'content': scenario_text}])"
    "::varchar",
])
def test_recorded_messages_are_exported_as_sent(pilot_copy, tmp_path, capsys, stored):
    """When the examples mart carries the messages (JSON, a list of structs or JSON text), they are used."""
    con = duckdb.connect(str(pilot_copy))
    con.execute("alter view main.examples rename to examples_without_messages")
    con.execute(f"create view main.examples as select * exclude (pos_messages, neg_messages), {stored} as pos_messages, "
                f"{stored.replace('pos_persona', 'neg_persona')} as neg_messages from main.examples_without_messages")
    con.close()
    rc, _, err = Psw(pilot_copy, capsys)("export-selection", "--out", tmp_path / "sel")
    assert rc == 0, err
    first = read_jsonl(tmp_path / "sel" / "steering.jsonl")[0]
    persona, scenario = query(pilot_copy, "select neg_persona, scenario_text from main.examples where pair_id = ?",
                              [first["id"]])[0]
    assert first["messages_origin"] == "recorded_messages"
    assert first["negative"][:2] == [{"role": "system", "content": "Be " + persona},
                                     {"role": "user", "content": scenario}]
    manifest = json.loads((tmp_path / "sel" / "manifest.json").read_text())
    assert list(manifest["messages"]["origins"]) == ["recorded_messages"]


def test_messages_prefer_what_was_recorded():
    pair = {"pair_id": "p", "template_text": "Act as a {persona} person.", "pos_persona": "kind",
            "neg_persona": "cruel", "scenario_text": "What now?", "pos_prompt": None, "neg_prompt": None}
    sent = [{"role": "system", "content": "S"}, {"role": "user", "content": "U", "name": "x"}]
    assert pole_messages({**pair, "pos_messages": json.dumps(sent)}, "pos") == (
        [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}], "recorded_messages")
    assert pole_messages({**pair, "neg_prompt": "P"}, "neg") == ([{"role": "user", "content": "P"}], "recorded_prompt")
    assert pole_messages(pair, "neg")[0][0] == {"role": "system", "content": "Act as a cruel person."}
    control = pole_messages({**pair, "template_text": ""}, "pos")
    assert control == ([{"role": "user", "content": "What now?"}], "reconstructed")  # no persona at all
    engineered = pole_messages({**pair, "template_text": "__verbatim_skill_persona__"}, "pos")
    assert engineered[0][0] == {"role": "system", "content": "kind"}
    with pytest.raises(UserError, match="pos_messages of pair p"):
        pole_messages({**pair, "pos_messages": '[{"role": "user"}]'}, "pos")


def test_quota_keeps_the_largest_deltas_per_source_in_input_order():
    pairs = [{"pair_id": f"p{i}", "source": src, "axis_delta": delta}
             for i, (src, delta) in enumerate([("a", 3), ("b", 8), ("a", 7), ("a", 7), ("b", 4)])]
    assert [p["pair_id"] for p in keep_per_source(pairs, 2)] == ["p1", "p2", "p3", "p4"]
    assert [p["pair_id"] for p in keep_per_source(pairs, 1)] == ["p1", "p2"]
