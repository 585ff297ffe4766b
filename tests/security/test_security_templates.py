"""Attack 1: template text runs code. A template line is data: `{persona}` is substituted and every
other character comes out verbatim, through each way a template reaches `psw collect`."""

from __future__ import annotations

import json
import shutil

import jinja2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from jinja2.sandbox import SandboxedEnvironment

from collect import plan as P
from collect.judges import PROMPTS_DIR, Prompts
from tests.conftest import REFERENCE
from warehouse.errors import UserError

PAIRS = REFERENCE / "persona_pairs_v2_candidates.jsonl"
SCENARIOS = REFERENCE / "scenarios_v2_candidates.jsonl"


def payload(marker) -> str:
    """The issue's exploit, as a template line (literal braces: see the verbatim test below)."""
    return "{{ cycler.__init__.__globals__.os.system('id > " + str(marker) + "') }}Be a {persona} person."


def expected(marker, persona: str) -> str:
    return payload(marker).replace("Be a {persona} person.", f"Be a {persona} person.")


def dry_run(psw, tmp_path, *sources) -> list[dict]:
    plan = tmp_path / "plan.jsonl"
    rc, out, err = psw("collect", *sources, "--generator", "gen/x", "--judge", "judge/y", "--n", "1",
                       "--dry-run", "--plan-out", plan)
    assert rc == 0, err
    return [json.loads(line) for line in plan.read_text().splitlines()]


def assert_verbatim(items: list[dict], marker) -> None:
    assert not marker.exists(), "template text ran a shell command"
    pos = {p["id"]: p["pos"] for p in map(json.loads, PAIRS.read_text().splitlines())}
    mine = [item for item in items if "cycler" in item["template_text"]]
    assert mine, "the template did not reach the plan"
    for item in mine:
        assert item["template_text"] == payload(marker)
        assert item["pos_persona"] == expected(marker, pos[item["persona_pair_id"]])
        assert item["pos_messages"][-1]["content"].startswith(expected(marker, pos[item["persona_pair_id"]]))


def test_templates_file(psw, tmp_path):
    marker = tmp_path / "pwned-file"
    templates = tmp_path / "templates.txt"
    templates.write_text(payload(marker) + "\n")
    items = dry_run(psw, tmp_path, "--pairs", PAIRS, "--templates", templates, "--scenarios", SCENARIOS)
    assert_verbatim(items, marker)


def test_ingested_templates(psw, tmp_path):
    marker = tmp_path / "pwned-ingest"
    templates = tmp_path / "templates.txt"
    templates.write_text(payload(marker) + "\n")
    assert psw("ingest", PAIRS, SCENARIOS)[0] == 0
    assert psw("ingest", "--kind", "templates", templates)[0] == 0   # a line opening with `{` needs the kind
    assert_verbatim(dry_run(psw, tmp_path), marker)


def test_imported_library_templates(psw, tmp_path, pilot_library):
    marker = tmp_path / "pwned-import"
    library = tmp_path / "library"
    shutil.copytree(pilot_library, library)
    for source in (library / "data").glob("source_*.parquet"):  # the mart-shaped splits are read, as
        source.unlink()                                          # from an earlier release's export
    path = library / "data" / "templates.parquet"
    table = pq.read_table(path)
    extra = {name: [None] for name in table.column_names}
    extra.update(template_id=["tpl_evil"], template_text=[payload(marker)])
    pq.write_table(pa.concat_tables([table, pa.table(extra, schema=table.schema)]), path)
    assert psw("import-hf", library)[0] == 0
    assert_verbatim(dry_run(psw, tmp_path), marker)


def test_literal_braces_and_slot_spacing_come_out_verbatim():
    tpl = P.make_template('Reply as JSON {{"a": 1}} with {{ name }}; you are { persona } ({persona}).', "t:1")
    assert P.render_template(tpl, "kind") == 'Reply as JSON {{"a": 1}} with {{ name }}; you are kind (kind).'
    # the Jinja form, for tools that render it, says the same thing
    rendered = SandboxedEnvironment(undefined=jinja2.StrictUndefined).from_string(tpl.jinja).render(persona="kind")
    assert rendered == P.render_template(tpl, "kind")
    assert P.render_template(P.make_template("Be {persona}.", "t:2"), "a {{ 7*7 }} \\1 person") == \
        "Be a {{ 7*7 }} \\1 person."
    with pytest.raises(UserError, match=r"t:3: template slot 'mood' is undefined"):
        P.make_template("Be {persona} and {mood}.", "t:3")


def test_prompt_files_render_in_a_sandbox(tmp_path):
    """Only the project's prompt files are templates; even an edited one cannot run code, and user
    text passed to it is never rendered."""
    marker = tmp_path / "pwned-prompt"
    prompts = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, prompts)
    (prompts / "layouts" / "user_turn" / "user.j2").write_text(
        "{{ cycler.__init__.__globals__.os.system('id > " + str(marker) + "') }}{{ scenario }}")
    with pytest.raises(UserError, match="user.j2"):
        Prompts.load(prompts).render("generation_user", persona="p", scenario="hi", self_contained=False)
    assert not marker.exists()
    rendered = Prompts.load().render("generation_user", persona="p", scenario="{{ 7 * 7 }}", self_contained=False)
    assert "{{ 7 * 7 }}" in rendered and "49" not in rendered
