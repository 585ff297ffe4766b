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
# Candidates are read from dbt's staging views (the latest definition of each id, the rule
# the marts use); files reach them through `psw ingest`'s checks first (psw/commands/collect.py).

STAGING = "staging"


def load_candidates(con, pair_ids: list[str] | None = None, template_texts: list[str] | None = None,
                    scenario_ids: list[str] | None = None):
    """(persona pairs, templates, scenarios) from the staging views; each list restricted to the
    given keys (in their order) when they are given, else every candidate."""
    pairs = [_persona_pair(row) for row in _rows(con, "stg_raw__persona_pairs", """
        select persona_pair_id, pos_persona, neg_persona, positive_behavior, negative_behavior,
               pos_persona_text, neg_persona_text, defined_at from {view} order by loaded_at, persona_pair_id""")]
    templates = [make_template(text, f"template {text!r}") for (text,) in _rows(con, "stg_raw__templates", """
        select template_text from {view} where template_status = 'active' order by loaded_at, line_no, template_text""")]
    scenarios = [Scenario(str(sid), text, bool(contained)) for sid, text, contained in _rows(con, "stg_raw__scenarios", """
        select scenario_id, scenario_text, is_self_contained from {view} order by loaded_at, scenario_id""")]
    return (_select(pairs, pair_ids, lambda p: p.id), _select(templates, template_texts, lambda t: t.text),
            _select(scenarios, scenario_ids, lambda s: s.id))


def _rows(con, view: str, sql: str) -> list[tuple]:
    if con is None:
        return []
    return con.execute(sql.format(view=f"{STAGING}.{view}")).fetchall()


def _select(items: list, keys: list[str] | None, key_of) -> list:
    if keys is None:
        return items
    by_key = {key_of(item): item for item in items}
    return [by_key[k] for k in keys if k in by_key]


def _persona_pair(row: tuple) -> PersonaPair:
    pid, pos, neg, positive, negative, pos_text, neg_text, defined_at = row
    for name, value in (("positive_behavior", positive), ("negative_behavior", negative)):
        if not value:
            raise UserError(f"{defined_at}: persona pair {pid!r} has no {name}; the judges need it")
    return PersonaPair(pid, pos, neg, positive, negative, pos_text or "", neg_text or "", defined_at)


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


def default_measurement_id(temperature: float, seed: int, gen_prompt_hash: str, max_tokens: int,
                           protocol: str = "v3") -> str:
    """Same sampling settings = same measurement, so new judges sit beside old ones. The
    generator is not part of it: `measurement_ids` adds it, one measurement per generator.
    An anchored run is a measurement of its own (a measurement states one protocol)."""
    settings = [float(temperature), seed, gen_prompt_hash, max_tokens] + ([protocol] if protocol != "v3" else [])
    h = hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:8]
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
                        pair_id=make_pair_id(mid, tpl.text, pp.id, sc.text, 0, scenario_id=sc.id, row_idx=row),
                        measurement_id=mid, generator=generator, template=tpl, persona_pair=pp,
                        scenario=sc, pos_label=pos_label_for(seed, pp.id, tpl.text, sc.id),
                        row_idx=row, pos_persona=personas["pos"], neg_persona=personas["neg"],
                        pos_messages=messages["pos"], neg_messages=messages["neg"]))
    return plan
