"""Record checks for JSONL inputs, compiled to one SQL expression per kind.

Each check yields a reason string or NULL; DuckDB evaluates them over every
line, so a million-line file is checked without a Python loop. Every field a
kind checks is pulled out of the record in one `json_extract(record, [paths])`
call (one parse per line), and the checks read those lists. These checks guard
shape and range only; every derivation happens later in dbt.
"""

from __future__ import annotations

from dataclasses import dataclass

from warehouse.judge_schema import panel

NUMBER_TYPES = "('BIGINT', 'UBIGINT', 'DOUBLE')"

# Style dimensions (`style_delta_<dim>_pos_minus_neg`) and off-axis categories (`off_axis_<category>`)
# of the v2 and v3 exports: the judge panels of the seed table that dbt reads too.
STYLE_DIMS = list(panel("style"))
OFF_AXIS_CATEGORIES = list(panel("off_axis"))


@dataclass(frozen=True)
class Check:
    field: str
    kind: str                 # text (non-empty) | string (may be empty) | number | integer | boolean | list
    #                           | strings (a list of strings) | scalar (a non-empty string or an integer)
    #                           | judges (v3 axis_judgments: objects, one per judge; AXIS_JUDGE_FIELDS)
    required: bool = True
    lo: float | None = None
    hi: float | None = None
    when_ok_only: bool = False  # skip on rows whose `error` is set (failed pairs)
    unless: str | None = None   # a required field that a record carrying this other field may leave out


# upstream's persona-pair files name the poles pos/neg, pos_descriptor/neg_descriptor or
# positive_persona/negative_persona: any one of each is required (rule below)
POLE_FIELDS = {"pos": ("pos", "pos_descriptor", "positive_persona"),
               "neg": ("neg", "neg_descriptor", "negative_persona")}
PAIRS = [Check("id", "text"), *(Check(name, "text", required=False) for names in POLE_FIELDS.values() for name in names),
         Check("pos_persona", "text", required=False), Check("neg_persona", "text", required=False),
         Check("difficulty", "scalar", required=False),
         Check("positive_behavior", "text", required=False),
         Check("negative_behavior", "text", required=False),
         Check("source_id", "text", required=False)]

SCENARIOS = [Check("id", "scalar"), Check("self_contained", "boolean", required=False),
             Check("source", "text", required=False)]  # plus: one of prompt | question | text (below)
SCENARIO_TEXT_FIELDS = ("prompt", "question", "text")

# What names a pair in an export (warehouse.keys.pair_id): its run, its row in that run, its sample
# and its scenario id, when the record carries them.
IDENTITY = [
    Check("artifact", "text", required=False), Check("row", "integer", required=False, lo=0, hi=2**31 - 1),
    Check("sample", "integer", required=False, lo=0, hi=2**31 - 1), Check("scenario_id", "scalar", required=False),
]

EXAMPLES = [
    # an empty template is the control arm (no persona text); a template without {persona} is engineered
    Check("template", "string"), Check("persona_pair", "text"), Check("prompt", "text"), *IDENTITY,
    Check("pos_persona", "text", required=False), Check("neg_persona", "text", required=False),
    Check("pos_generation_prompt", "string", required=False), Check("neg_generation_prompt", "string", required=False),
    Check("base_generation_prompt", "string", required=False),  # anchored: the baseline's prompt
    Check("likely_spurious_axis", "string", required=False, when_ok_only=True),
    Check("pos_response", "text", when_ok_only=True),
    Check("neg_response", "text", when_ok_only=True),
    Check("axis_delta", "number", lo=-8, hi=8, when_ok_only=True),
    # an anchored export (each pole against the baseline) has side deltas instead
    Check("positive_delta", "number", lo=-4, hi=4, when_ok_only=True, unless="delta_pos_vs_base"),
    Check("negative_delta", "number", lo=-4, hi=4, when_ok_only=True, unless="delta_base_vs_neg"),
    Check("off_axis_problem", "number", lo=1, hi=7, when_ok_only=True),
    Check("max_style_abs_delta", "number", lo=0, hi=6, when_ok_only=True),
    Check("word_delta_frac", "number", required=False, lo=-2, hi=2, when_ok_only=True),
    Check("usable_for_training", "boolean", when_ok_only=True),
    Check("persona_echo", "boolean", when_ok_only=True),
    Check("refusal_or_ai_break", "boolean", when_ok_only=True),
    Check("strict_pass", "boolean", required=False, when_ok_only=True),
    Check("pairwise_positive_delta", "number", required=False, lo=-2, hi=2, when_ok_only=True),
    Check("pairwise_negative_delta", "number", required=False, lo=-2, hi=2, when_ok_only=True),
] + [Check(f"style_delta_{dim}_pos_minus_neg", "number", required=False, lo=-6, hi=6, when_ok_only=True)
     for dim in STYLE_DIMS]

# v3 exports: several axis judges, the off-axis panel, lexical checks and the judge's own flags
EXAMPLES += [
    Check("axis_delta_judge_mean", "number", required=False, lo=-8, hi=8, when_ok_only=True),
    Check("axis_delta_judge_std", "number", required=False, lo=0, hi=8, when_ok_only=True),
    Check("axis_judge_mean_abs_disagreement", "number", required=False, lo=0, hi=16, when_ok_only=True),
    Check("max_off_axis_category_likert", "number", required=False, lo=1, hi=7, when_ok_only=True),
    Check("response_token_jaccard", "number", required=False, lo=0, hi=1, when_ok_only=True),
    Check("pos_repeated_token_frac", "number", required=False, lo=0, hi=1, when_ok_only=True),
    Check("neg_repeated_token_frac", "number", required=False, lo=0, hi=1, when_ok_only=True),
    Check("judge_persona_echo", "boolean", required=False, when_ok_only=True),
    Check("judge_refusal_or_ai_break", "boolean", required=False, when_ok_only=True),
    Check("axis_judge_models", "strings", required=False, when_ok_only=True),
    Check("axis_judgments", "judges", required=False, when_ok_only=True),
] + [
    # anchored exports (upstream after 2026-07): the baseline answer and each side's movement against it
    Check("base_response", "text", required=False, when_ok_only=True),
    Check("delta_pos_vs_base", "number", required=False, lo=-2, hi=2, when_ok_only=True),
    Check("delta_base_vs_neg", "number", required=False, lo=-2, hi=2, when_ok_only=True),
    Check("min_side_delta", "number", required=False, lo=-2, hi=2, when_ok_only=True),
] + [Check(f"{pole}_{hits}_hits", "strings", required=False, when_ok_only=True)
     for pole in ("pos", "neg") for hits in ("refusal_phrase", "persona_echo")
] + [Check(f"off_axis_{category}", "number", required=False, lo=1, hi=7, when_ok_only=True)
     for category in OFF_AXIS_CATEGORIES]

# Published stats (`*_template_pair_stats.jsonl`, `*_template_stats.jsonl`, model-matrix rows):
# numbers someone else computed, loaded to compare with ours. Only what places a row is checked.
STATS = [Check("template", "string"), Check("persona_pair", "text", required=False),
         Check("n", "integer", required=False, lo=0, hi=2**31 - 1)]

# A selection (upstream's `data/selections/<name>.jsonl`): a scenario pool chosen for one template
# and axis, each scenario with the numbers it was chosen by (ingest/selections.py).
SELECTION = [Check("id", "scalar"), Check("prompt", "text"), Check("source", "text", required=False),
             Check("config", "string", required=False), Check("self_contained", "boolean", required=False),
             Check("selection_score", "number", lo=-1000, hi=1000),
             Check("axis_delta", "number", required=False, lo=-8, hi=8),
             Check("off_axis_problem", "number", required=False, lo=1, hi=7),
             Check("strict_pass", "boolean", required=False)]

CHECKS = {"pairs": PAIRS, "scenarios": SCENARIOS, "examples": EXAMPLES, "stats": STATS, "selection": SELECTION}

# What dbt reads from each entry of a v3 record's axis_judgments (macro exported_judge_axis_type):
# the judge, and its deltas (signed ratings - 3, averaged over the two orders, summed for axis_delta).
AXIS_JUDGE_FIELDS = {"positive_forward_delta": 2, "positive_reverse_delta": 2, "negative_forward_delta": 2,
                     "negative_reverse_delta": 2, "pairwise_positive_delta": 2, "pairwise_negative_delta": 2,
                     "axis_delta": 8, "delta_pos_vs_base": 2, "delta_base_vs_neg": 2}


# Fields a kind's builds read that no check constrains (any value is kept): extracted with the
# checked ones, typed at ingest (ingest/typed.py) as these check kinds would type them
EXTRACTED = {"pairs": [("trait", "string"), ("eval_prompt", "string")],  # persona_vectors trait files
             # an anchored examples file psw exported states its run's excluded off-axis categories
             "examples": [("exclude_confound_dims", "strings")],
             # upstream's scenario metadata (scripts/scenario_sources)
             "scenarios": [("config", "string"), ("axes", "strings"), ("foundation", "string"), ("pov", "string"),
                           ("frame", "string")],
             # published stats: upstream's HF library names the runtime template `raw_template` (its
             # `template` is the Jinja form); a model-matrix row names its generator
             "stats": [("raw_template", "string"), ("generator_model", "string")],
             # a selection's summary (`<name>_summary.json`, level summary): what the pool was chosen
             # for, its counts, and (written by psw export-selection) the psw that wrote it
             "selection": [("template", "string"), ("axis", "string"), ("generator_model", "string"),
                           ("generator", "string"), ("n_selected", "integer"), ("source_counts", "nested"),
                           ("//written_by", "string")]}


def fields(kind: str) -> list[str]:
    names = [c.field for c in CHECKS[kind]]
    if kind == "scenarios":
        names += SCENARIO_TEXT_FIELDS
    if kind == "examples":
        names.append("error")
    return names + [name for name, _ in EXTRACTED.get(kind, [])]


def kind_of(kind: str, name: str) -> str:
    """The Check kind of field `name` of `kind` (EXTRACTED's own; `error` and the scenario texts: string)."""
    declared = [(c.field, c.kind) for c in CHECKS[kind]] + EXTRACTED.get(kind, [])
    return next((k for field, k in declared if field == name), "string")


def field_index(kind: str) -> dict[str, int]:
    """1-based position of each checked field in the `t`/`s` lists of extract_sql(kind)."""
    return {name: i + 1 for i, name in enumerate(fields(kind))}


def extract_sql(kind: str) -> str:
    """The JSON type (`t`) and text (`s`) of every checked field, each list from one call;
    both NULL where `record` is not valid JSON (try: the other lines still get checked)."""
    paths = "[" + ", ".join(f"'$.\"{name}\"'" for name in fields(kind)) + "]"
    return f"try(json_type(record, {paths})) as t, try(json_extract_string(record, {paths})) as s"


def reasons_sql(kind: str) -> str:
    """SQL for the list of reasons (empty when the record is fine), over `t` and `s` of extract_sql(kind)."""
    index = field_index(kind)
    # the checks in CHECKS order, each run of successive `when_ok_only` checks under one test of the
    # record's `error` (once a row, not once a check: a fifth of the SQL DuckDB binds, and of the work)
    runs: list[tuple[bool, list[str]]] = []
    for check in CHECKS[kind]:
        if not runs or runs[-1][0] != check.when_ok_only:
            runs.append((check.when_ok_only, []))
        runs[-1][1].append(_check_sql(check, index))
    one_of = {"scenarios": {"prompt": SCENARIO_TEXT_FIELDS}, "pairs": POLE_FIELDS}.get(kind, {})
    for name, names in one_of.items():
        present = " or ".join(f"t[{index[k]}] = 'VARCHAR'" for k in names)
        runs.append((False, [f"case when not coalesce({present}, false) "
                             f"then 'missing required field {name} (or {', or '.join(names[1:])})' end"]))
    lists = [f"case when not {failed_sql(index)} then [{', '.join(parts)}] else []::varchar[] end" if ok_only
             else f"[{', '.join(parts)}]" for ok_only, parts in runs]
    return "list_filter(flatten([" + ",\n".join(lists) + "]), lambda reason: reason is not null)"


def _check_sql(check: Check, index: dict[str, int]) -> str:
    """A check's reason or NULL (a `when_ok_only` check's test of the record's `error` is reasons_sql's)."""
    i = index[check.field]
    jt, text, f = f"t[{i}]", f"s[{i}]", check.field
    absent = f"({jt} is null or {jt} = 'NULL')"
    got = f"left({text}, 40)"
    if check.kind == "text":
        ok = f"({jt} = 'VARCHAR' and regexp_matches({text}, '\\S'))"  # not only whitespace (a cheap scan, no copy)
        expect = "a non-empty string"
    elif check.kind == "string":
        ok = f"{jt} = 'VARCHAR'"
        expect = "a string"
    elif check.kind == "scalar":
        ok = f"({jt} in ('BIGINT', 'UBIGINT') or ({jt} = 'VARCHAR' and regexp_matches({text}, '\\S')))"
        expect = "a non-empty string or an integer"
    elif check.kind == "list":
        ok = f"{jt} = 'ARRAY'"
        expect = "a list"
    elif check.kind == "strings":
        ok = (f"(case when {jt} = 'ARRAY' then list_bool_and(list_transform(json_type({text}, '$[*]'), "
              f"lambda x: x = 'VARCHAR')) is not false else false end)")  # CASE: parse lists only
        expect = "a list of strings"
    elif check.kind == "judges":
        return _judges_sql(check, index)
    elif check.kind == "boolean":
        ok = f"{jt} = 'BOOLEAN'"
        expect = "true or false"
    else:
        is_num = f"{jt} in {NUMBER_TYPES}" if check.kind == "number" else f"{jt} in ('BIGINT', 'UBIGINT')"
        ok = f"({is_num} and try_cast({text} as double) between {check.lo} and {check.hi})"
        noun = "an integer" if check.kind == "integer" else "a number"
        expect = f"{noun} in {_fmt(check.lo)}..{_fmt(check.hi)}"
    missing = f"'missing required field {f}'"
    wrong = f"'field {f}: expected {expect}, got ' || {got}"
    if check.required and check.unless:
        j = index[check.unless]
        other_absent = f"(t[{j}] is null or t[{j}] = 'NULL')"
        expr = f"case when {absent} and {other_absent} then {missing} when not {absent} and not {ok} then {wrong} end"
    elif check.required:
        expr = f"case when {absent} then {missing} when not {ok} then {wrong} end"
    else:
        expr = f"case when not {absent} and not {ok} then {wrong} end"
    return expr


def _judges_sql(check: Check, index: dict[str, int]) -> str:
    """v3 axis_judgments: a list of objects, each naming its judge (a non-empty string) once per pair,
    with the deltas dbt reads as numbers in range. dbt keys a map by judge: a missing or repeated
    judge would fail every later build."""
    i = index[check.field]
    jt, text, f = f"t[{i}]", f"s[{i}]", check.field
    n = f"json_array_length({text})"
    models = f"json_extract_string({text}, '$[*].judge_model')"
    parts = [
        f"case when len(list_filter(json_type({text}, '$[*]'), lambda x: x = 'OBJECT')) < {n} "
        f"then 'field {f}: every entry must be a JSON object (one per axis judge)' end",
        f"case when len(list_filter(json_type({text}, '$[*].judge_model'), lambda x: x = 'VARCHAR')) < {n} "
        f"or list_bool_or(list_transform({models}, lambda m: not regexp_matches(m, '\\S'))) "
        f"then 'field {f}: every entry needs judge_model, a non-empty string' end",
        f"case when len(list_distinct({models})) < len({models}) then 'field {f}: judge ' || "
        f"list_filter({models}, lambda m, k: list_position({models}, m) < k)[1] || "
        f"' appears twice (one axis judgment per judge per pair)' end",
    ]
    for name, bound in AXIS_JUDGE_FIELDS.items():
        types, values = f"json_type({text}, '$[*].{name}')", f"json_extract_string({text}, '$[*].{name}')"
        parts.append(f"case when list_bool_or(list_transform({types}, lambda x: x not in {NUMBER_TYPES})) "
                     f"or list_bool_or(list_transform({values}, lambda v: abs(v::double) > {bound})) "
                     f"then 'field {f}: {name} of every judge must be a number in -{bound}..{bound}' end")
    first = "list_filter([" + ", ".join(parts) + "], lambda reason: reason is not null)[1]"
    # CASE evaluates a branch on its own rows only: the list is parsed only where it is one
    return (f"case when {failed_sql(index)} or {jt} is null or {jt} = 'NULL' then null "
            f"when {jt} <> 'ARRAY' then 'field {f}: expected a list of judge objects, got ' || left({text}, 40) "
            f"else {first} end")


def failed_sql(index: dict[str, int]) -> str:
    """The one `error` rule of every kind (README.md): a record is a failed pair when its `error` is
    anything but null, absent or an empty string (a message, false, 0, an object). An exported
    success often carries `"error": ""`, and must then carry its metrics."""
    t, s = f"t[{index['error']}]", f"s[{index['error']}]"
    return f"coalesce({t} <> 'NULL' and not ({t} = 'VARCHAR' and {s} = ''), false)"


def duplicate_keys_sql(kind: str) -> str:
    """Reasons (a list) for duplicate keys, over `record`, `record_id` (null when the record could not
    be read as a map: a key repeats at the top level) and the `t`/`s` lists. Parsers disagree on which
    value of a repeated key counts (DuckDB keeps the first, Python the last), so none is guessed.
    Checked: the record's own keys and, in v3 examples, the judge objects in axis_judgments."""
    def first_repeat(keys: str) -> str:
        return f"list_filter({keys}, lambda k, n: list_position({keys}, k) < n)[1]"
    top = (f"case when record_id is null then coalesce('duplicate key \"' || {first_repeat('json_keys(record)')} || "
           f"'\" in one object (parsers disagree on which value counts); keep one', "
           f"'expected a JSON object of named fields') end")
    if kind != "examples":
        return f"list_filter([{top}], lambda reason: reason is not null)"
    i = field_index(kind)["axis_judgments"]
    objects = f"list_concat(json_keys(s[{i}], '$[*]'), json_keys(s[{i}], '$[*].*'))"
    nested = (f"case when t[{i}] = 'ARRAY' then 'duplicate key \"' || list_filter(list_transform({objects}, "
              f"lambda keys: {first_repeat('keys')}), lambda k: k is not null)[1] || "
              f"'\" in an object of axis_judgments (parsers disagree on which value counts); keep one' end")
    return f"list_filter([{top}, {nested}], lambda reason: reason is not null)"


def _fmt(x: float | None) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() else str(x)
