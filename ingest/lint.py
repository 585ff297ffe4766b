"""`psw lint`: cheap checks on persona pairs and templates, before a measured run is paid for.

Each check turns one record (a pair at its line, a template at its line) into findings; a finding
prints as `file:line: check: message`. The checks follow the persona-steering rules in
`../shared/seed/persona-steering-skill.md`: the steering direction is mean(pos - neg), so whatever
differs between the two sentences besides the pole (a negation, an unmirrored clause, a word the
answers repeat) becomes part of the axis. Heuristics, not proofs: a finding is a line to read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ingest.read import detect_kind, scan
from warehouse.errors import UserError

LINTED_KINDS = ("pairs", "templates")
NEGATORS = {"not", "no", "non", "never", "without", "isn't", "doesn't", "don't", "lacking"}
CONNECTIVES = r"even when|even if|even though|because|since|while|whereas|although|though|unless|so that|but"
CLAUSE_JOIN = re.compile(rf"[,;]|\b(?:{CONNECTIVES})\b", re.I)
CLAUSE_SPLIT = re.compile(rf"\s*(?:[,;]|\b(?:{CONNECTIVES})\b)\s*", re.I)
# self-labels that answers tend to repeat ("As a security-minded public servant, I ...")
ECHO_SUFFIXES = ("minded", "focused", "oriented", "driven", "conscious", "centered", "centred", "centric",
                 "first", "loving", "averse", "seeking", "obsessed", "savvy")
ROLE_NOUNS = {"advocate", "activist", "assistant", "bureaucrat", "ceo", "coach", "doctor", "employee", "engineer",
              "expert", "guardian", "journalist", "judge", "lawyer", "leader", "manager", "monk", "nurse", "officer",
              "official", "philosopher", "priest", "professional", "professor", "scientist", "servant", "soldier",
              "teacher", "therapist", "whistleblower"}
MAX_PERSONA_WORDS = 8
# a vowel letter with a consonant sound takes "a"; a silent h takes "an"
A_BEFORE_VOWEL = ("uni", "use", "usu", "uti", "ure", "uro", "eu", "one", "once", "ubiq")
AN_BEFORE_H = ("honest", "honor", "honour", "hour", "heir")
AN_LETTERS = set("aefhilmnorsx")  # letter names that start with a vowel sound: an FBI, an LLM
ARTICLE = re.compile(r"\b(a|an)\s+(\{persona\}|[A-Za-z][\w'-]*)", re.I)
SLOT_LIKE = re.compile(r"\{+\s*([^{}]*?)\s*\}+")
ENGINEERED = re.compile(r"^__\w+__$")


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.check}: {self.message}"


@dataclass
class Record:
    path: Path
    line: int
    value: dict | str


def lint_files(paths: list[Path], kind: str | None = None) -> list[Finding]:
    """Findings for every file, in the order given; templates are checked against every pair given."""
    records: dict[str, list[Record]] = {k: [] for k in LINTED_KINDS}
    findings: list[Finding] = []
    for path in paths:
        file_kind = kind or _kind(path)
        records[file_kind] += _read(path, file_kind, findings)
    for record in records["pairs"]:
        findings += lint_pair(record)
    personas = [(r.value.get("id") or f"line {r.line}", side, r.value[side]) for r in records["pairs"]
                for side in ("pos", "neg")]
    for record in records["templates"]:
        findings += lint_template(record, personas)
    order = {path: i for i, path in enumerate(paths)}
    return sorted(findings, key=lambda f: (order.get(f.path, 0), f.line))


def _kind(path: Path) -> str:
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        found = detect_kind(scan(path))
    except ValueError as exc:     # a JSON array and the like: ingest's own words, as one line
        raise UserError(f"{path}: {exc}") from None
    if found is None and path.suffix.lower() == ".txt":
        found = "templates"  # a template file whose first line has no slot is still a template file
    if found not in LINTED_KINDS:
        raise UserError(f"{path}: lint reads persona pairs (JSONL with pos, neg) and templates (TXT); "
                        f"this is {found or 'neither'} (give --kind to say which)")
    return found


def _read(path: Path, kind: str, findings: list[Finding]) -> list[Record]:
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    records = []
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                findings.append(Finding(path, line_no, "record", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} "
                                                                 f"at column {exc.start + 1})"))
                continue
            if not text.strip():
                continue
            if kind == "templates":
                records.append(Record(path, line_no, text.strip()))
                continue
            value = _pair_record(text)
            if isinstance(value, str):
                findings.append(Finding(path, line_no, "record", value))
            else:
                records.append(Record(path, line_no, value))
    return records


def _pair_record(text: str) -> dict | str:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg} at column {exc.colno})"
    except RecursionError:
        return "not valid JSON (nested too deeply)"
    if not isinstance(value, dict):
        return "not a JSON object"
    missing = [k for k in ("pos", "neg") if not isinstance(value.get(k), str) or not value[k].strip()]
    return f"missing or empty {', '.join(missing)}" if missing else value


# --- persona pairs -------------------------------------------------------------------------

def words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z']*", text.lower().replace("-", " "))


def lint_pair(record: Record) -> list[Finding]:
    pair = record.value
    out = []
    for check, message in [*negation(pair["pos"], pair["neg"]), *unmirrored(pair["pos"], pair["neg"]),
                           *articles_in(pair, ("pos", "neg", "positive_behavior", "negative_behavior")),
                           *echo_prone(pair["pos"], pair["neg"])]:
        out.append(Finding(record.path, record.line, check, message))
    return out


def negation(pos: str, neg: str) -> list[tuple[str, str]]:
    if words(pos) == words(neg):
        return [("identical", f"pos and neg are the same words ({pos!r}): there is no axis")]
    for side, text, other in (("neg", neg, pos), ("pos", pos, neg)):
        kept = [w for w in words(text) if w not in NEGATORS]
        if len(kept) < len(words(text)) and kept == words(other):
            return [("negation", f"{side} {text!r} only negates {other!r}: name the opposite pole "
                                 f"(a word for what it is), not the absence of the other")]
    return [("negation", f"{side} {text!r} starts with a negation: name what the pole is, not what it is not")
            for side, text in (("pos", pos), ("neg", neg)) if words(text)[:1] and words(text)[0] in NEGATORS]


def clauses(text: str) -> tuple[list[str], list[str]]:
    """(clauses, the connectives joining them): 'X even when Y' -> (['X', 'Y'], ['even when'])."""
    parts = CLAUSE_SPLIT.split(text)
    joins = [j.strip().lower() for j in CLAUSE_JOIN.findall(text)]
    return [p.strip() for p in parts if p and p.strip()], joins


def unmirrored(pos: str, neg: str) -> list[tuple[str, str]]:
    """The mirror test on structure: each clause needs a counterpart joined the same way on the other side."""
    (pos_clauses, pos_joins), (neg_clauses, neg_joins) = clauses(pos), clauses(neg)
    found = []
    for side, mine, theirs, other, other_text in (("pos", pos_clauses, neg_clauses, "neg", neg),
                                                  ("neg", neg_clauses, pos_clauses, "pos", pos)):
        for clause in mine[len(theirs):]:
            if set(words(clause)) - NEGATORS <= set(words(other_text)):
                continue  # 'sober, not on acid' / 'high on acid': the extra clause names the other pole
            found.append(("unmirrored", f"{side} clause {clause!r} has no counterpart in {other}: "
                                        f"unmirrored content becomes its own axis"))
    if len(pos_clauses) == len(neg_clauses) and pos_joins != neg_joins:
        found.append(("unmirrored", f"pos joins its clauses with {', '.join(map(repr, pos_joins))}, neg with "
                                    f"{', '.join(map(repr, neg_joins))}: flip only the pole, keep the frame"))
    return found


def wants_an(word: str) -> bool:
    """Whether `word` takes "an" (by its first sound; a heuristic with the common exceptions)."""
    if word.isupper() and len(word) <= 5:
        return word[0].lower() in AN_LETTERS
    lower = word.lower()
    if lower.startswith(AN_BEFORE_H):
        return True
    return lower[:1] in "aeiou" and not lower.startswith(A_BEFORE_VOWEL)


def article_errors(text: str) -> list[str]:
    """'a honest' -> ["'a honest' should be 'an honest'"] (slots are checked per persona elsewhere)."""
    errors = []
    for match in ARTICLE.finditer(text):
        article, word = match.group(1), match.group(2)
        if word == "{persona}":
            continue
        right = "an" if wants_an(word) else "a"
        if article.lower() != right:
            right = right.capitalize() if article[0].isupper() else right
            errors.append(f"{match.group(0)!r} should be '{right} {word}'")
    return errors


def articles_in(pair: dict, fields: tuple[str, ...]) -> list[tuple[str, str]]:
    return [("article", f"{name}: {error}") for name in fields if isinstance(pair.get(name), str)
            for error in article_errors(pair[name])]


def echo_prone(pos: str, neg: str) -> list[tuple[str, str]]:
    found = []
    for side, text in (("pos", pos), ("neg", neg)):
        for token in re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)+", text):
            if token.lower().rsplit("-", 1)[-1] in ECHO_SUFFIXES:
                article = "an" if wants_an(token) else "a"
                found.append(("echo", f"{side} self-label {token!r}: answers tend to repeat it ('as {article} "
                              f"{token} person, I ...'), and the vector learns the word, not the behaviour"))
        for role in sorted(set(words(text)) & ROLE_NOUNS):
            found.append(("echo", f"{side} role noun {role!r}: answers introduce themselves by role "
                          f"('as a {role}, I ...'); describe the behaviour instead"))
        if len(words(text)) > MAX_PERSONA_WORDS:
            found.append(("echo", f"{side} has {len(words(text))} words: long descriptors are echoed verbatim; "
                          f"keep personas to a short phrase (<= {MAX_PERSONA_WORDS} words)"))
    return found


# --- templates -----------------------------------------------------------------------------

def lint_template(record: Record, personas: list[tuple[str, str, str]]) -> list[Finding]:
    text = record.value
    found = [("slot", message) for message in slot_problems(text)]
    found += [("article", error) for error in article_errors(text)]
    found += [("article", message) for message in slot_articles(text, personas)]
    return [Finding(record.path, record.line, check, message) for check, message in found]


def slot_problems(text: str) -> list[str]:
    if ENGINEERED.match(text):
        return []  # an engineered template (e.g. __verbatim_skill_persona__) names its persona text
    problems = []
    for match in SLOT_LIKE.finditer(text):
        if match.group(0) == "{persona}":
            continue
        inner = match.group(1)
        if inner.lower().replace(" ", "") in ("persona", "personas", "personna", "persona_text"):
            problems.append(f"{match.group(0)!r} is not the slot: write {{persona}} (data is never a Jinja template)")
        else:
            problems.append(f"{match.group(0)!r} is not filled: {{persona}} is the only slot")
    if "{persona}" not in text and not problems:
        problems.append("no {persona} slot: every persona pair would get the same prompt")
    return problems


def slot_articles(text: str, personas: list[tuple[str, str, str]]) -> list[str]:
    """'a {persona}' filled with 'honest' reads 'a honest': one finding per article slot."""
    messages = []
    for match in re.finditer(r"\b([Aa]n?)\s+\{persona\}", text):
        article = match.group(1).lower()
        wrong = [f"'{match.group(1)} {persona}' ({pair_id} {side})" for pair_id, side, persona in personas
                 if words(persona) and (article == "an") != wants_an(re.split(r"[\s-]", persona.strip())[0])]
        if wrong:
            shown = ", ".join(wrong[:3]) + (f" and {len(wrong) - 3} more" if len(wrong) > 3 else "")
            messages.append(f"{match.group(0)!r} reads {shown}: put the article in the persona text or "
                            f"reword the template")
    return messages
