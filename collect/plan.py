"""What a collect run measures: candidates, sampled scenarios, pairs and A/B labels.

Everything here is a pure function of the inputs and the seed, so a re-run of the
same command plans the same pairs (same pair_id, same pos_label) and resumes.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from warehouse.keys import pair_id as make_pair_id
from warehouse.errors import UserError


CONTROL_TEMPLATE = ""        # the no-persona baseline arm (`--control`)
ENGINEERED_TEMPLATE = "__verbatim_skill_persona__"   # the pair's long pos_persona/neg_persona


@dataclass(frozen=True)
class PersonaPair:
    id: str
    pos: str
    neg: str
    positive_behavior: str
    negative_behavior: str
    pos_persona: str = ""      # long descriptors, used by the engineered template
    neg_persona: str = ""
    origin: str = ""           # file:line, for error messages


@dataclass(frozen=True)
class Scenario:
    id: str
    text: str
    self_contained: bool = False   # carries its own question and length: no second instruction


@dataclass(frozen=True)
class Template:
    text: str          # the {persona} form, as written in the candidates file
    jinja: str         # the same with {{ persona }}
    origin: str        # file:line, for error messages


@dataclass
class PlanItem:
    pair_id: str
    measurement_id: str
    generator: str
    template: Template
    persona_pair: PersonaPair
    scenario: Scenario
    pos_label: str
    row_idx: int
    pos_persona: str               # the persona text each pole's prompt carries ('' for the control)
    neg_persona: str
    pos_messages: list[dict]       # exactly what is sent to generate each pole
    neg_messages: list[dict]
    sample_idx: int = 0

    @property
    def same_prompts(self) -> bool:
        """Both poles get the same messages (the control arm): generate once, use it twice."""
        return self.pos_messages == self.neg_messages

    @staticmethod
    def user_turn(messages: list[dict]) -> str:
        return messages[-1]["content"]

    def as_dict(self) -> dict:
        return {
            "pair_id": self.pair_id,
            "measurement_id": self.measurement_id,
            "generator_model": self.generator,
            "template_text": self.template.text,
            "persona_pair_id": self.persona_pair.id,
            "scenario_id": self.scenario.id,
            "row_idx": self.row_idx,
            "sample_idx": self.sample_idx,
            "pos_label": self.pos_label,
            "pos_persona": self.pos_persona,
            "neg_persona": self.neg_persona,
            "pos_messages": self.pos_messages,
            "neg_messages": self.neg_messages,
        }


# ---------------------------------------------------------------- candidates

def _jsonl(path: Path):
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"{path}:0: cannot read ({exc.strerror})") from None
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise UserError(f"{path}:{no}: invalid JSON ({exc.msg})") from None
        if not isinstance(rec, dict):
            raise UserError(f"{path}:{no}: expected a JSON object")
        yield no, rec


def _persona_pair(rec: dict, where: str) -> PersonaPair:
    for key in ("id", "pos", "neg", "positive_behavior", "negative_behavior"):
        if not isinstance(rec.get(key), str) or not rec[key].strip():
            raise UserError(f"{where}: persona pair needs a non-empty string '{key}'")
    for key in ("pos_persona", "neg_persona"):
        if rec.get(key) is not None and not isinstance(rec[key], str):
            raise UserError(f"{where}: persona pair field '{key}' must be a string")
    return PersonaPair(rec["id"], rec["pos"], rec["neg"], rec["positive_behavior"],
                       rec["negative_behavior"], rec.get("pos_persona") or "",
                       rec.get("neg_persona") or "", where)


def _scenario(rec: dict, where: str) -> Scenario:
    text = next((rec[k] for k in ("prompt", "question", "text")
                 if isinstance(rec.get(k), str) and rec[k].strip()), None)
    if text is None:
        raise UserError(f"{where}: scenario needs a non-empty 'prompt', 'question' or 'text'")
    sid = rec.get("id")
    if sid is None or (isinstance(sid, str) and not sid.strip()):
        raise UserError(f"{where}: scenario needs an 'id'")
    if not isinstance(rec.get("self_contained", False), bool):
        raise UserError(f"{where}: scenario field 'self_contained' must be true or false")
    return Scenario(str(sid), text, rec.get("self_contained", False))


# A slot is `{name}` (spaces allowed inside) not doubled: `{{name}}` and any other braces are
# literal text and come out verbatim. Templates are data: a slot is filled by plain substitution,
# never rendered as Jinja (a template line must not be able to run code).
_SLOT = re.compile(r"(?<!\{)\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}(?!\})")
SLOTS = ("persona",)


def make_template(text: str, where: str) -> Template:
    if text in (CONTROL_TEMPLATE, ENGINEERED_TEMPLATE):
        return Template(text, text, where)   # no slot: persona_text() supplies the persona
    names = [m.group(1) for m in _SLOT.finditer(text)]
    unknown = next((name for name in names if name not in SLOTS), None)
    if unknown is not None:
        raise UserError(f"{where}: template slot '{unknown}' is undefined (only {{persona}} is filled)")
    if "persona" not in names:
        raise UserError(f"{where}: template has no {{persona}} slot")
    return Template(text, _jinja_form(text), where)


def _jinja_form(text: str) -> str:
    """The template as Jinja2 with `{{ persona }}`, literal text quoted where Jinja would read it,
    for tools that want Jinja; this project never renders it."""
    out, last = [], 0
    for m in _SLOT.finditer(text):
        out += [_jinja_literal(text[last:m.start()]), "{{ persona }}"]
        last = m.end()
    out.append(_jinja_literal(text[last:]))
    return "".join(out)


def _jinja_literal(text: str) -> str:
    if not any(mark in text for mark in ("{{", "{%", "{#", "}}", "%}", "#}")):
        return text
    return "{{ " + repr(text) + " }}"   # a Jinja string literal: printed as it is


def render_template(tpl: Template, persona: str) -> str:
    """The template with every slot replaced by the persona text, all else verbatim."""
    return _SLOT.sub(lambda _: persona, tpl.text)


def _unique(items, key, where_of):
    seen = {}
    for item, where in zip(items, where_of):
        k = key(item)
        if k in seen:
            raise UserError(f"{where}: duplicate id {k!r} (first at {seen[k]})")
        seen[k] = where
    return items


def load_pairs_file(path: Path) -> list[PersonaPair]:
    rows = [(_persona_pair(rec, f"{path}:{no}"), f"{path}:{no}") for no, rec in _jsonl(path)]
    if not rows:
        raise UserError(f"{path}:0: no persona pairs")
    return _unique([r[0] for r in rows], lambda p: p.id, [r[1] for r in rows])


def load_scenarios_file(path: Path) -> list[Scenario]:
    rows = [(_scenario(rec, f"{path}:{no}"), f"{path}:{no}") for no, rec in _jsonl(path)]
    if not rows:
        raise UserError(f"{path}:0: no scenarios")
    return _unique([r[0] for r in rows], lambda s: s.id, [r[1] for r in rows])


def load_templates_file(path: Path) -> list[Template]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"{path}:0: cannot read ({exc.strerror})") from None
    out, seen = [], set()
    for no, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#") or text in seen:
            continue
        seen.add(text)
        out.append(make_template(text, f"{path}:{no}"))
    if not out:
        raise UserError(f"{path}:0: no templates")
    return out


def _has_table(con, name: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema='raw' and table_name=?",
        [name]).fetchone()[0])


def _latest_records(con, table: str, key: str) -> list[tuple[dict, str]]:
    """(record, 'raw.<table>:<line>') per key, the newest load winning (the staging rule)."""
    if con is None or not _has_table(con, table):
        return []
    rows = con.execute(f"""
        select record::varchar, line_no from raw.{table}
        qualify row_number() over (partition by {key} order by loaded_at desc, line_no) = 1
        order by loaded_at, line_no, {key}""").fetchall()
    return [(json.loads(rec), f"raw.{table}:{line}") for rec, line in rows]


def load_pairs_table(con) -> list[PersonaPair]:
    return [_persona_pair(rec, where) for rec, where in _latest_records(con, "persona_pairs", "persona_pair_id")]


def load_scenarios_table(con) -> list[Scenario]:
    return [_scenario(rec, where) for rec, where in _latest_records(con, "scenarios", "scenario_id")]


def load_templates_table(con) -> list[Template]:
    if con is None or not _has_table(con, "templates"):
        return []
    rows = con.execute("""
        select template_text, min(line_no) as line_no from raw.templates
        group by template_text order by min(loaded_at), min(line_no), template_text""").fetchall()
    return [make_template(t, f"raw.templates:{line}") for t, line in rows]


# ---------------------------------------------------------------- planning

def sample_rows(scenarios: list[Scenario], n: int | None, seed: int) -> list[tuple[int, Scenario]]:
    """(row, scenario) of a seeded shuffle's first n, in file order. The row is the 1-based
    place in the shuffle (upstream's `row`), so a larger --n with the same seed extends the
    same sample and keeps every row number."""
    order = list(range(len(scenarios)))
    random.Random(seed).shuffle(order)
    take = order if n is None else order[:n]
    rows = sorted(enumerate(take, 1), key=lambda row_index: row_index[1])
    return [(row, scenarios[index]) for row, index in rows]


def sample_scenarios(scenarios: list[Scenario], n: int | None, seed: int) -> list[Scenario]:
    return [sc for _, sc in sample_rows(scenarios, n, seed)]


def pos_label_for(seed: int, persona_pair_id: str, template_text: str, scenario_id: str) -> str:
    digest = hashlib.sha256(
        "\x1f".join([str(seed), persona_pair_id, template_text, scenario_id]).encode()).digest()
    return "A" if digest[0] % 2 == 0 else "B"


def default_measurement_id(temperature: float, seed: int, gen_prompt_hash: str, max_tokens: int) -> str:
    """Same sampling settings = same measurement, so new judges sit beside old ones. The
    generator is not part of it: `measurement_ids` adds it, one measurement per generator."""
    h = hashlib.sha256(json.dumps([float(temperature), seed, gen_prompt_hash,
                                   max_tokens]).encode()).hexdigest()[:8]
    return f"collect-s{seed}-{h}"


def measurement_id_for(base: str, generator: str) -> str:
    """One measurement per generator, named losslessly: `<measurement>/<generator model>`."""
    return f"{base}/{generator}"


def persona_text(tpl: Template, pp: PersonaPair, pole: str) -> str:
    """What the prompt says about the persona: the template filled with the pole's descriptor,
    the pair's long descriptor for the engineered template, nothing for the control."""
    if tpl.text == CONTROL_TEMPLATE:
        return ""
    if tpl.text == ENGINEERED_TEMPLATE:
        text = pp.pos_persona if pole == "pos" else pp.neg_persona
        if not text.strip():
            raise UserError(f"{pp.origin or pp.id}: persona pair {pp.id!r} has no '{pole}_persona' "
                            f"for the template {ENGINEERED_TEMPLATE}")
        return text
    return render_template(tpl, pp.pos if pole == "pos" else pp.neg)


def build_plan(base_measurement: str, generators: list[str], templates: list[Template],
               pairs: list[PersonaPair], rows: list[tuple[int, Scenario]], seed: int,
               prompts) -> list[PlanItem]:
    """Every pair to measure: generator x template x persona pair x scenario row."""
    plan = []
    for generator in generators:
        mid = measurement_id_for(base_measurement, generator)
        for tpl in templates:
            for pp in pairs:
                personas = {pole: persona_text(tpl, pp, pole) for pole in ("pos", "neg")}
                for row, sc in rows:
                    messages = {pole: prompts.generation_messages(text, sc.text, sc.self_contained)
                                for pole, text in personas.items()}
                    plan.append(PlanItem(
                        pair_id=make_pair_id(mid, tpl.text, pp.id, sc.text, 0, scenario_id=sc.id),
                        measurement_id=mid, generator=generator, template=tpl, persona_pair=pp,
                        scenario=sc, pos_label=pos_label_for(seed, pp.id, tpl.text, sc.id),
                        row_idx=row, pos_persona=personas["pos"], neg_persona=personas["neg"],
                        pos_messages=messages["pos"], neg_messages=messages["neg"]))
    return plan
