"""Candidate files that come as one document rather than one record per line.

- A template catalog (upstream's `template_catalog.yaml`, or its JSONL twin): a list of
  templates with `template_jinja`, `status` (active | catalog_only | excluded), `kind`, the
  source (`primary_source_id/type/url`), `family`, notes. Every attribute is kept; the
  runtime template replaces `{{ name }}` with `{name}` by plain text substitution (the
  catalog is data: it is never rendered).
- A persona_vectors trait file (`<trait>.json`: `instruction` [{pos, neg}], `questions`,
  `eval_prompt`): each instruction pair becomes a persona pair whose persona text is the
  long instruction (an engineered template uses it), each question a scenario; the eval
  prompt is kept with the pairs.

YAML is read with yaml.safe_load semantics (no tags, no objects): data never runs as code.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml

from ingest.read import Reject
from warehouse import safe_yaml

JINJA_SLOT = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
STATUSES = ("active", "catalog_only", "excluded")


def record_id(obj: Any) -> str:
    return hashlib.md5(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def looks_like_catalog(path: Path) -> bool:
    return path.suffix.lower() in (".yaml", ".yml")


def looks_like_trait(path: Path) -> bool:
    head = path.read_text(encoding="utf-8", errors="replace")[:4096] if path.suffix == ".json" else ""
    return '"instruction"' in head and '"questions"' in head


def runtime_template(template_jinja: str) -> str:
    """`{{ persona }}` -> `{persona}`: a text substitution, never a render."""
    return JINJA_SLOT.sub(lambda m: "{" + m.group(1) + "}", template_jinja)


def catalog_rows(path: Path) -> tuple[list[dict], list[Reject]]:
    """(template_text, line_no, record) per catalog entry, or the rejects that refuse the file."""
    try:
        text = path.read_text(encoding="utf-8").removeprefix("\ufeff")
        node = safe_yaml.compose(text)
        entries = safe_yaml.load(text)
    except UnicodeDecodeError as exc:
        return [], [Reject(None, f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x})")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [], [Reject(mark.line + 1 if mark else None, f"invalid YAML: {getattr(exc, 'problem', exc)}")]
    except RecursionError:
        return [], [Reject(None, "invalid YAML: nested too deeply")]
    if not isinstance(entries, list):
        return [], [Reject(1, "a template catalog is a YAML list of templates (each with template_jinja)")]
    rows, rejects = [], []
    for entry, item in zip(entries, node.value):
        line = item.start_mark.line + 1
        problem = _catalog_problem(entry)
        if problem:
            rejects.append(Reject(line, problem, json.dumps(entry, default=str)[:200]))
            continue
        record = json.loads(json.dumps(entry, default=str))  # YAML dates etc. as text
        template = runtime_template(entry["template_jinja"])
        rows.append({"record_id": record_id(record), "line_no": line, "template_text": template, "record": json.dumps(record)})
    return rows, rejects


def active_templates(rows: list[dict]) -> list[str]:
    """The runtime templates of a catalog's active entries (the candidates it offers)."""
    return [row["template_text"] for row in rows if json.loads(row["record"]).get("status", "active") == "active"]


def _catalog_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return "expected a mapping (one template with its attributes)"
    if not isinstance(entry.get("template_jinja"), str) or not entry["template_jinja"].strip():
        return "missing required field template_jinja"
    status = entry.get("status", "active")
    if status not in STATUSES:
        return f"field status: expected one of {', '.join(STATUSES)}, got {status!r}"
    slots = JINJA_SLOT.findall(entry["template_jinja"])
    if status == "active" and slots != ["persona"]:
        return f"an active template needs exactly one {{{{ persona }}}} slot, got {slots}"
    return None


def trait_rows(path: Path) -> tuple[list[dict], list[dict], list[Reject]]:
    """(persona pair records, scenario records, rejects) of a persona_vectors trait file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8").removeprefix("\ufeff"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        return [], [], [Reject(getattr(exc, "lineno", None), f"invalid JSON: {getattr(exc, 'msg', exc)}")]
    trait = path.stem
    problem = _trait_problem(doc)
    if problem:
        return [], [], [Reject(None, problem)]
    # the poles are the trait's own instructions: a made-up "not <trait>" is what `psw lint` flags
    pairs = [{"id": f"{trait}_{i}", "pos": pair["pos"], "neg": pair["neg"],
              "pos_persona": pair["pos"], "neg_persona": pair["neg"],
              "positive_behavior": f"shows {trait} (judged by the trait's eval prompt)",
              "negative_behavior": f"does not show {trait}", "source_id": "persona_vectors",
              "trait": trait, "eval_prompt": doc.get("eval_prompt")}
             for i, pair in enumerate(doc["instruction"])]
    scenarios = [{"id": f"{trait}_q{i}", "question": question, "source": f"persona_vectors:{trait}"}
                 for i, question in enumerate(doc["questions"])]
    return pairs, scenarios, []


def _trait_problem(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return "a trait file is one JSON object with instruction[], questions[] and eval_prompt"
    instructions = doc.get("instruction")
    if not isinstance(instructions, list) or not instructions:
        return "missing required field instruction (a list of {pos, neg})"
    for i, pair in enumerate(instructions):
        if not isinstance(pair, dict) or not all(isinstance(pair.get(k), str) and pair[k].strip() for k in ("pos", "neg")):
            return f"instruction[{i}]: expected {{pos, neg}} non-empty strings"
    questions = doc.get("questions")
    if not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
        return "missing required field questions (a list of non-empty strings)"
    return None
