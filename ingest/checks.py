"""Record checks for JSONL inputs, compiled to one SQL expression per kind.

Each check yields a reason string or NULL; DuckDB evaluates them over every
line, so a million-line file is checked without a Python loop. These checks
guard shape and range only; every derivation happens later in dbt.
"""

from __future__ import annotations

from dataclasses import dataclass

NUMBER_TYPES = "('BIGINT', 'UBIGINT', 'DOUBLE')"


@dataclass(frozen=True)
class Check:
    field: str
    kind: str                 # text | number | integer | boolean
    required: bool = True
    lo: float | None = None
    hi: float | None = None
    when_ok_only: bool = False  # skip on rows whose `error` is set (failed pairs)


def _json_type(field: str) -> str:
    return f"json_type(record, '$.\"{field}\"')"


def _value(field: str) -> str:
    return f"(record ->> '$.\"{field}\"')"


def _check_sql(check: Check) -> str:
    jt, val, f = _json_type(check.field), _value(check.field), check.field
    absent = f"({jt} is null or {jt} = 'NULL')"
    if check.kind == "text":
        ok = f"({jt} = 'VARCHAR' and length(trim({val})) > 0)"
        expect = "a non-empty string"
    elif check.kind == "boolean":
        ok = f"{jt} = 'BOOLEAN'"
        expect = "true or false"
    else:
        is_num = f"{jt} in {NUMBER_TYPES}" if check.kind == "number" else f"{jt} in ('BIGINT', 'UBIGINT')"
        ok = f"({is_num} and try_cast({val} as double) between {check.lo} and {check.hi})"
        noun = "an integer" if check.kind == "integer" else "a number"
        expect = f"{noun} in {_fmt(check.lo)}..{_fmt(check.hi)}"
    missing = f"'missing required field {f}'"
    wrong = f"'field {f}: expected {expect}, got ' || left({val}, 40)"
    if check.required:
        expr = f"case when {absent} then {missing} when not {ok} then {wrong} end"
    else:
        expr = f"case when not {absent} and not {ok} then {wrong} end"
    return _only_when_ok(expr) if check.when_ok_only else expr


def _only_when_ok(expr: str) -> str:
    return f"case when {_json_type('error')} is null or {_json_type('error')} = 'NULL' then {expr} end"


def _fmt(x: float | None) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() else str(x)


PAIRS = [Check("id", "text"), Check("pos", "text"), Check("neg", "text"),
         Check("positive_behavior", "text", required=False),
         Check("negative_behavior", "text", required=False),
         Check("source_id", "text", required=False)]

SCENARIOS = [Check("id", "text")]  # plus: one of prompt | question | text (below)

EXAMPLES = [
    Check("template", "text"), Check("persona_pair", "text"), Check("prompt", "text"),
    Check("pos_persona", "text", required=False), Check("neg_persona", "text", required=False),
    Check("pos_response", "text", when_ok_only=True),
    Check("neg_response", "text", when_ok_only=True),
    Check("axis_delta", "number", lo=-8, hi=8, when_ok_only=True),
    Check("positive_delta", "number", lo=-4, hi=4, when_ok_only=True),
    Check("negative_delta", "number", lo=-4, hi=4, when_ok_only=True),
    Check("off_axis_problem", "number", lo=1, hi=7, when_ok_only=True),
    Check("max_style_abs_delta", "number", lo=0, hi=6, when_ok_only=True),
    Check("word_delta_frac", "number", required=False, lo=-2, hi=2, when_ok_only=True),
    Check("usable_for_training", "boolean", when_ok_only=True),
    Check("persona_echo", "boolean", when_ok_only=True),
    Check("refusal_or_ai_break", "boolean", when_ok_only=True),
    Check("strict_pass", "boolean", required=False, when_ok_only=True),
    Check("pairwise_positive_delta", "number", required=False, lo=-2, hi=2, when_ok_only=True),
    Check("pairwise_negative_delta", "number", required=False, lo=-2, hi=2, when_ok_only=True),
]

STYLE_DELTA = "style_delta_"


def reasons_sql(kind: str) -> str:
    """SQL for a list of reasons (empty when the record is fine) over `record` JSON."""
    checks = {"pairs": PAIRS, "scenarios": SCENARIOS, "examples": EXAMPLES}[kind]
    parts = [_check_sql(c) for c in checks]
    if kind == "scenarios":
        has_text = " or ".join(f"{_json_type(k)} = 'VARCHAR'" for k in ("prompt", "question", "text"))
        parts.append(f"case when not coalesce({has_text}, false) then 'missing required field prompt (or question, or text)' end")
    if kind == "examples":
        parts.append(_only_when_ok(_style_delta_check()))
    return "list_filter([" + ",\n".join(parts) + "], lambda reason: reason is not null)"


def _style_delta_check() -> str:
    """Every style_delta_<dim>_pos_minus_neg present must be a number in -6..6."""
    keys = "list_filter(json_keys(record), lambda key: starts_with(key, 'style_delta_'))"
    bad = (f"list_filter({keys}, lambda key: coalesce(json_type(record, '$.\"' || key || '\"') "
           f"not in {NUMBER_TYPES} or abs(try_cast(record ->> ('$.\"' || key || '\"') as double)) > 6, true))")
    return (f"case when len({bad}) > 0 then 'field ' || {bad}[1] || ': expected a number in -6..6, got ' "
            f"|| left(record ->> ('$.\"' || {bad}[1] || '\"'), 40) end")
