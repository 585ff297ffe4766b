"""What a collect run measures: candidates, sampled scenarios, pairs and A/B labels.

Everything here is a pure function of the inputs and the seed, so a re-run of the
same command plans the same pairs (same pair_id, same pos_label) and resumes.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from warehouse.keys import pair_id as make_pair_id
from warehouse.errors import UserError


@dataclass(frozen=True)
class PersonaPair:
    id: str
    pos: str
    neg: str
    positive_behavior: str
    negative_behavior: str


@dataclass(frozen=True)
class Scenario:
    id: str
    text: str


@dataclass(frozen=True)
class Template:
    text: str          # the {persona} form, as written in the candidates file
    jinja: str         # the same with {{ persona }}
    origin: str        # file:line, for error messages


@dataclass
class PlanItem:
    pair_id: str
    measurement_id: str
    template: Template
    persona_pair: PersonaPair
    scenario: Scenario
    pos_label: str
    sample_idx: int = 0
    pos_system: str = ""
    neg_system: str = ""
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "pair_id": self.pair_id,
            "measurement_id": self.measurement_id,
            "template_text": self.template.text,
            "persona_pair_id": self.persona_pair.id,
            "scenario_id": self.scenario.id,
            "sample_idx": self.sample_idx,
            "pos_label": self.pos_label,
            "pos_prompt": self.pos_system,
            "neg_prompt": self.neg_system,
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
    return PersonaPair(rec["id"], rec["pos"], rec["neg"], rec["positive_behavior"],
                       rec["negative_behavior"])


def _scenario(rec: dict, where: str) -> Scenario:
    text = next((rec[k] for k in ("prompt", "question", "text")
                 if isinstance(rec.get(k), str) and rec[k].strip()), None)
    if text is None:
        raise UserError(f"{where}: scenario needs a non-empty 'prompt', 'question' or 'text'")
    sid = rec.get("id")
    if sid is None or (isinstance(sid, str) and not sid.strip()):
        raise UserError(f"{where}: scenario needs an 'id'")
    return Scenario(str(sid), text)


# A slot is `{name}` (spaces allowed inside) not doubled: `{{name}}` and any other braces are
# literal text and come out verbatim. Templates are data: a slot is filled by plain substitution,
# never rendered as Jinja (a template line must not be able to run code).
_SLOT = re.compile(r"(?<!\{)\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}(?!\})")
SLOTS = ("persona",)


def make_template(text: str, where: str) -> Template:
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

def sample_scenarios(scenarios: list[Scenario], n: int | None, seed: int) -> list[Scenario]:
    """A seeded shuffle, first n: a larger --n with the same seed extends the same sample."""
    order = list(range(len(scenarios)))
    random.Random(seed).shuffle(order)
    take = order if n is None else order[:n]
    return [scenarios[i] for i in sorted(take)]


def pos_label_for(seed: int, persona_pair_id: str, template_text: str, scenario_id: str) -> str:
    digest = hashlib.sha256(
        "\x1f".join([str(seed), persona_pair_id, template_text, scenario_id]).encode()).digest()
    return "A" if digest[0] % 2 == 0 else "B"


def default_measurement_id(generator: str, temperature: float, seed: int, gen_prompt_hash: str,
                           max_tokens: int) -> str:
    """Same generator + sampling settings = same measurement, so new judges sit beside old ones."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", generator.split("/")[-1]).strip("-").lower()[:40]
    h = hashlib.sha256(json.dumps([generator, float(temperature), seed, gen_prompt_hash,
                                   max_tokens]).encode()).hexdigest()[:8]
    return f"collect-{slug}-s{seed}-{h}"


def build_plan(measurement_id: str, templates: list[Template], pairs: list[PersonaPair],
               scenarios: list[Scenario], seed: int) -> list[PlanItem]:
    plan = []
    for tpl in templates:
        for pp in pairs:
            pos_system = render_template(tpl, pp.pos)
            neg_system = render_template(tpl, pp.neg)
            for sc in scenarios:
                plan.append(PlanItem(
                    pair_id=make_pair_id(measurement_id, tpl.text, pp.id, sc.text, 0),
                    measurement_id=measurement_id, template=tpl, persona_pair=pp, scenario=sc,
                    pos_label=pos_label_for(seed, pp.id, tpl.text, sc.id),
                    pos_system=pos_system, neg_system=neg_system))
    return plan
