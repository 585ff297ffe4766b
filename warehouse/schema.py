"""The `raw` schema: the only tables that Python writes.

Everything here is append-only. Rows are content-addressed: each table's first
column is a key derived from the content (a file's sha256, a record's canonical hash:
warehouse/keys.py), so loading the same content twice adds nothing. A load owns its
rows: the tables that loads write are keyed by (content key, load_id), so a record that
two loads brought is held once for each, and `psw forget --load` (which deletes one
load's rows) removes exactly what no live load holds. Staging keeps one row per record
across loads (dbt/macros/held_once.sql: the earliest live load's). The writers skip keys
already present (an anti join on insert); the three tables that grow with every measured
pair (exported_pairs, pairs, judgments) declare no PRIMARY KEY index, which would cost
more than the insert itself at a million rows, and dbt tests their keys instead.
Their text columns are stored with zstd: long completions compress about 5x, and
a checkpoint writes them faster than with DuckDB's default string compression.
dbt reads these tables through `dbt/models/staging/raw/_raw__sources.yml` and
derives everything else; what staging reads of the JSON psw stores is typed once,
when the row is written (TYPED_JSON), so staging never parses JSON.

Who writes what:
- `psw ingest` (ingest/loader.py): loads, rejects, measurements, persona_pairs,
  templates, scenarios, exported_pairs (v2/v3 example exports), and for run
  artifacts pairs + judgments.
- `psw collect` (collect/): pairs + judgments (the same shape as an
  artifact), measurements, api_calls (the HTTP cache); `--adaptive` runs also
  adaptive_decisions (collect/adaptive_run.py).
- `psw extract` (extract/): the activation_* and steering_* tables it declares.
- `psw ingest --kind vectors|projections` (extract/imported.py): imported_vectors,
  imported_projections, and their loads.

Conventions shared with dbt:
- `pairs.pos_label` is 'A' or 'B': the label the positive completion had in
  every blind judge call of that pair.
- `judgments.criterion` is one of positive_axis, negative_axis, style, confound (the
  pilot protocol) or positive_axis_forward, positive_axis_reverse, negative_axis_forward,
  negative_axis_reverse, style, confound (v3: warehouse/judge_schema.py);
  `judgments.output` holds the judge's JSON object with the validator's keys
  (warehouse/judge_schema.py), or null with `error` set. A `*_reverse` call showed the
  two texts swapped; `pos_label` is always the forward order's label.
"""

from __future__ import annotations

import re

import duckdb

from warehouse.keys import pair_id_sql, record_id_sql

# the pair id of a stored exported record (`record`, `measurement_id`): one definition for
# ingest's checks, its insert and the upgrade of older warehouses
EXPORTED_PAIR_ID_SQL = pair_id_sql(
    "measurement_id", "record ->> 'template'", "record ->> 'persona_pair'", "record ->> 'prompt'",
    "coalesce(try_cast(record ->> 'sample' as integer), 0)", "record ->> 'scenario_id'", "record ->> 'artifact'",
    "try_cast(record ->> 'row' as integer)")

RAW_DDL = """
create schema if not exists raw;

create table if not exists raw.loads (
    load_id varchar primary key,        -- sha256 of (file bytes, kind, measurement), or a run id
    file_sha256 varchar,                -- sha256 of the file bytes alone
    kind varchar not null,              -- pairs|templates|scenarios|examples|artifact|collect|...
    source_path varchar not null,
    measurement_id varchar,
    n_records integer not null,
    loaded_at timestamp not null,
    forgotten_at timestamp,             -- set by `psw forget`: its rows are gone, raw.forgets says when
    n_blank_lines integer               -- blank lines the file held (skipped, and said so)
);

-- the raw schema's version (SCHEMA_VERSION): a warehouse of an older version is migrated in place
create table if not exists raw.schema_version (
    version integer not null,
    migrated_at timestamp not null
);

create table if not exists raw.forgets (
    load_id varchar not null,           -- the load whose rows `psw forget` removed
    source_path varchar,
    kind varchar,
    measurement_id varchar,
    loaded_at timestamp,                -- when that load had been made
    n_rows integer not null,            -- rows removed from the raw tables
    forgotten_at timestamp not null
);

create table if not exists raw.rejects (
    load_id varchar not null,           -- the load_id the refused file would have had
    source_path varchar not null,
    line_no integer,
    reason varchar not null,
    excerpt varchar,
    rejected_at timestamp not null
);

create table if not exists raw.measurements (
    measurement_id varchar not null,
    load_id varchar not null,
    generator_model varchar,
    judge_models varchar[],
    temperature double,
    seed integer,
    source_format varchar,              -- examples_v2|examples_v3|artifact|collect|import
    params json,                        -- the load's parameters as written; typed in params_typed (TYPED_JSON)
    recorded_at timestamp not null
);

create table if not exists raw.adaptive_decisions (
    decision_id varchar primary key,    -- md5 over load, measurement, round, template, persona pair
    load_id varchar not null,           -- the adaptive `psw collect` run (raw.loads)
    measurement_id varchar not null,
    round integer not null,             -- 1, 2, ...: the round after which the cell was judged
    cell_id varchar,                    -- template_pair_scores.cell_id (null before the cell has a pair)
    template_text varchar not null,
    persona_pair_id varchar not null,
    n_pairs integer not null,           -- the cell's successful pairs when decided
    score double,                       -- template_pair_scores.score as read then
    score_se double,                    -- ... and its jackknife standard error (null: too few pairs)
    decision varchar not null,          -- kept | kept_no_se | dropped
    calls_so_far integer not null,      -- protocol calls of the pairs the run had planned by then
    stop_reason varchar,                -- on the last round: top_k | complete | budget
    final_rank integer,                 -- on the last round: 1..k for the run's top k
    settings json not null,             -- budget, top_k, z, rounds, round_size, replay_of (typed: settings_typed)
    decided_at timestamp not null
);

create table if not exists raw.persona_pairs (
    record_id varchar not null,         -- warehouse.keys.record_id_sql: the parsed record, canonically
    load_id varchar not null,           -- each load holds its own row of a record it brought
    line_no integer not null,
    persona_pair_id varchar not null,
    record json not null,               -- the line as it came (+ `fields`, `extra`: ingest/typed.py)
    loaded_at timestamp not null,
    primary key (record_id, load_id)
);

create table if not exists raw.templates (
    record_id varchar not null,         -- md5 of the template text
    load_id varchar not null,
    line_no integer not null,
    template_text varchar not null,
    loaded_at timestamp not null,
    primary key (record_id, load_id)
);

create table if not exists raw.template_catalog (
    record_id varchar not null,         -- md5 of the entry's attributes (sorted keys)
    load_id varchar not null,
    line_no integer not null,           -- where the entry starts in the catalog file
    template_text varchar not null,     -- the runtime template ({{ persona }} -> {persona}, substituted)
    record json not null,               -- every attribute: status, kind, family, sources, notes (typed: record_typed)
    loaded_at timestamp not null,
    primary key (record_id, load_id)
);

create table if not exists raw.scenarios (
    record_id varchar not null,
    load_id varchar not null,
    line_no integer not null,
    scenario_id varchar not null,
    record json not null,               -- the line as it came (+ `fields`, `extra`: ingest/typed.py)
    loaded_at timestamp not null,
    primary key (record_id, load_id)
);

create table if not exists raw.exported_pairs (
    record_id varchar not null,         -- warehouse.keys.record_id_sql(measurement_id, record)
    load_id varchar not null,           -- (record_id, load_id) is the key: a load owns its rows
    measurement_id varchar not null,
    line_no integer not null,
    record json not null using compression zstd,  -- the line as it came (+ `fields`, `extra`)
    loaded_at timestamp not null,
    pair_id varchar                     -- warehouse.keys.pair_id of the record, computed at ingest
);

create table if not exists raw.published_stats (
    record_id varchar not null,         -- warehouse.keys.record_id_sql(measurement_id, record)
    load_id varchar not null,
    measurement_id varchar not null,    -- the measurement the published numbers describe
    level varchar not null,             -- template_pair | template | template_model | upstream HF: template_pair_cell | template_main | persona_pair
    line_no integer not null,
    record json not null,               -- the published row, upstream's column names (+ `fields`, `extra`)
    loaded_at timestamp not null
);

create table if not exists raw.selections (
    record_id varchar not null,         -- warehouse.keys.record_id_sql(selection_id, record)
    load_id varchar not null,
    selection_id varchar not null,      -- the selection's name: <name>.jsonl and <name>_summary.json share it
    level varchar not null,             -- scenario (a kept scenario) | summary (the selection's summary)
    line_no integer not null,
    scenario_id varchar,                -- level scenario: the scenario's id, as upstream names it
    record json not null,               -- as published, upstream's field names (+ `fields`, `extra`)
    loaded_at timestamp not null,
    primary key (record_id, load_id)
);

create table if not exists raw.pairs (
    pair_id varchar not null,           -- warehouse.keys.pair_id(...)
    load_id varchar not null,
    measurement_id varchar not null,
    template_text varchar not null,
    persona_pair_id varchar not null,
    pos_persona varchar,
    neg_persona varchar,
    scenario_id varchar,
    scenario_text varchar not null using compression zstd,
    sample_idx integer not null,
    pos_label varchar,                  -- 'A' | 'B'
    pos_prompt varchar using compression zstd,
    neg_prompt varchar using compression zstd,
    pos_response varchar using compression zstd,
    neg_response varchar using compression zstd,
    generator_model varchar,
    error varchar,
    extra json,
    loaded_at timestamp not null,
    source_run varchar,                 -- the run a pooled export names (`artifact`), else null
    row_idx integer,                    -- the pair's row within its run, when the source numbers rows
    pos_messages json,                  -- the exact chat messages sent to generate each pole
    neg_messages json,
    prompt_set varchar,                 -- the named prompt layout collect used (null for imports)
    record_id varchar                   -- an artifact's result, canonically hashed: the same pair from two
                                        -- loads is one record only when this agrees (null: collected)
);

create table if not exists raw.judgments (
    judgment_id varchar not null,       -- md5 over pair, judge, prompt hash, criterion, content
    pair_id varchar not null,
    measurement_id varchar not null,
    load_id varchar not null,
    judge_model varchar not null,
    criterion varchar not null,         -- positive_axis|negative_axis|style|confound
    prompt_hash varchar not null,
    pos_label varchar not null,         -- 'A' | 'B'
    output json using compression zstd,
    raw_text varchar using compression zstd,
    error varchar,
    loaded_at timestamp not null
);

-- the HTTP cache of `psw collect` (and of extract's judge calls)
create table if not exists raw.api_calls (
    cache_key varchar primary key,      -- sha256 of (base url, model, messages, params)
    base_url varchar not null,
    model varchar not null,
    request json not null,              -- the request body as sent (model, messages, params); never headers
    response json,                      -- the response body as received
    content varchar,                    -- choices[0].message.content
    finish_reason varchar,
    prompt_tokens integer,
    completion_tokens integer,
    cost double,
    attempts integer,
    latency_s double,
    measurement_id varchar,             -- the measurement that paid for the call
    load_id varchar,
    created_at timestamp not null
);

-- activation statistics written by `psw extract`

create table if not exists raw.activation_runs (
    run_id varchar primary key,         -- md5 over provenance, measurement, layers, pair set
    measurement_id varchar,
    model_id varchar not null,
    model_revision varchar,
    chat_template_hash varchar,
    layer_convention varchar not null,
    dtype varchar not null,
    layers integer[] not null,
    strict_only boolean not null,
    n_pairs integer not null,
    params json,
    created_at timestamp not null
);

create table if not exists raw.activation_vectors (
    vector_id varchar primary key,      -- md5 over run, cell, layer, reduction
    run_id varchar not null,
    cell_id varchar not null,
    layer integer not null,             -- output of model.layers[layer], 0-based
    reduction varchar not null,         -- response_mean | prompt_last
    n_pairs integer not null,
    norm double not null,
    vector float[] not null,
    safetensors_path varchar not null,
    provenance json not null,
    created_at timestamp not null
);

-- a cell vector recomputed over its pairs resampled with replacement (`--bootstrap`):
-- the trait-geometry cosines' intervals are drawn from these
create table if not exists raw.activation_vector_replicates (
    vector_id varchar not null,         -- raw.activation_vectors.vector_id
    replicate integer not null,         -- 0 .. bootstrap - 1
    vector float[] not null,
    created_at timestamp not null,
    primary key (vector_id, replicate)
);

create table if not exists raw.activation_pair_stats (
    stat_id varchar primary key,        -- md5 over vector, pair
    vector_id varchar not null,
    run_id varchar not null,
    pair_id varchar not null,
    cell_id varchar not null,
    layer integer not null,
    reduction varchar not null,
    diff_norm double not null,          -- |pos - neg|
    pos_projection double not null,     -- pos . v / |v|
    neg_projection double not null,
    cosine double not null,             -- cos(pos - neg, v)
    n_pos_tokens integer not null,
    n_neg_tokens integer not null,
    created_at timestamp not null,
    pos_heldout_projection double,      -- pos . u / |u|, u the mean of the other pairs' (pos - neg)
    neg_heldout_projection double,      -- null in a one-pair cell
    cosine_to_others_mean double,       -- mean over the cell's other pairs j of cos(d, d_j), d = pos - neg
    cosine_sq_to_others_mean double     -- ... of cos(d, d_j)^2; both null in a one-pair cell
);

create table if not exists raw.steering_generations (
    generation_id varchar primary key,  -- md5 over vector, positions, coeff, scenario, settings
    vector_id varchar not null,
    cell_id varchar not null,
    layer integer not null,
    positions varchar not null,         -- all | prompt | response
    coeff double not null,
    scenario_id varchar,
    scenario_text varchar not null,
    response_text varchar not null,
    n_tokens integer not null,
    projection double,                  -- mean response-token activation . v / |v|, unsteered pass
    max_new_tokens integer not null,
    temperature double not null,
    seed integer,
    model_id varchar not null,
    model_revision varchar,
    created_at timestamp not null
);

create table if not exists raw.steering_judgments (
    judgment_id varchar primary key,    -- md5 over generation, judge, criterion, rubric, reply
    generation_id varchar not null,
    judge_model varchar not null,
    criterion varchar not null,         -- trait | coherence
    prompt_hash varchar not null,       -- the rubric's hash (raw.steering_rubrics.rubric_hash)
    score double,                       -- 0-100, null when the reply did not parse
    raw_text varchar,
    error varchar,
    created_at timestamp not null
);

-- trait and coherence scores of a pair's own completions (`psw extract judge --measurement M`), for
-- persona_vectors' effective-pair rule; rubrics in raw.steering_rubrics
create table if not exists raw.pair_response_judgments (
    judgment_id varchar primary key,    -- md5 over pair, side, judge, criterion, rubric, reply
    pair_id varchar not null,
    side varchar not null,              -- pos | neg: which completion of the pair
    judge_model varchar not null,
    criterion varchar not null,         -- trait | coherence
    prompt_hash varchar not null,       -- the rubric's hash (raw.steering_rubrics.rubric_hash)
    score double,                       -- 0-100, null when the reply did not parse
    raw_text varchar,
    error varchar,
    created_at timestamp not null
);

-- the judge's rubrics (data/prompts/steering/*.txt or `--rubric DIR`), each text stored once
create table if not exists raw.steering_rubrics (
    rubric_hash varchar primary key,    -- sha256 of the text (trailing newlines dropped)
    rubric_text varchar not null,
    source_path varchar,                -- the file it was first read from
    created_at timestamp not null
);

create table if not exists raw.activation_projections (
    projection_id varchar primary key,  -- md5 over vector, response kind, response id
    vector_id varchar not null,
    response_kind varchar not null,     -- prompted_pos | prompted_neg | baseline | steered
    response_id varchar not null,       -- pair_id or generation_id
    projection double not null,
    n_tokens integer not null,
    created_at timestamp not null
);

-- vectors and projection tables from other tools, written by `psw ingest --kind vectors|projections`
-- (extract/imported.py). Layer L here is ours: the output of model.layers[L]; source_layer is the
-- index the file used, and layer = source_layer + layer_offset.

create table if not exists raw.imported_vectors (
    vector_id varchar primary key,      -- md5 over file sha256, tensor, layers, trait, model
    load_id varchar not null,
    source_path varchar not null,
    file_sha256 varchar not null,
    source_format varchar not null,     -- persona_vectors_pt | pt_per_layer | repeng_gguf | safetensors_* | psw_safetensors
    tensor_name varchar not null,       -- the tensor read (and its row, for a stacked tensor)
    model_id varchar not null,
    model_revision varchar,
    trait varchar not null,
    reduction varchar not null,         -- response_mean | prompt_mean | prompt_last | unspecified
    layer integer not null,
    source_layer integer not null,
    layer_offset integer not null,
    layer_convention varchar not null,  -- how the file numbers its layers, in words
    hidden_size integer not null,
    norm double not null,
    vector float[] not null,
    provenance json not null,           -- file metadata, model type, dtype, skipped rows, options
    loaded_at timestamp not null
);

create table if not exists raw.imported_projections (
    projection_id varchar primary key,  -- md5 over file sha256, line, column, trait, model, offset
    load_id varchar not null,
    source_path varchar not null,
    file_sha256 varchar not null,
    source_format varchar not null,     -- persona_vectors_csv | persona_vectors_jsonl
    line_no integer not null,           -- the record's first line in the file
    column_name varchar not null,
    model_id varchar not null,
    model_revision varchar,
    trait varchar not null,
    reduction varchar not null,
    layer integer not null,
    source_layer integer not null,
    layer_offset integer not null,
    prompt varchar using compression zstd,
    answer varchar using compression zstd,
    projection double not null,
    extra json,                         -- the record's other fields
    loaded_at timestamp not null
);
"""


# JSON attributes typed once, when a row is written (warehouse/append.py), into a STRUCT beside the JSON
# they come from (kept as it came, and exported): dbt's staging selects members, it never parses JSON.
# table -> (JSON column, typed column, [(member, DuckDB type)]); a member is the JSON key of its name,
# as text (->>), cast to its type. A catalog's attributes are text, as upstream's YAML writes them;
# the adaptive settings are psw's own numbers (collect/adaptive.py checks them; import-hf refuses a
# split the rule cannot cast: hf/import_checks.py).
TYPED_JSON = {
    "raw.template_catalog": ("record", "record_typed", [
        (name, "VARCHAR") for name in ("status", "kind", "family", "primary_source_id", "primary_source_type",
                                       "primary_source_url", "note")]),
    # the judging protocol a load declared ('anchored'; none: judged by the guide's protocol)
    "raw.measurements": ("params", "params_typed", [("protocol", "VARCHAR")]),
    "raw.adaptive_decisions": ("settings", "settings_typed", [
        ("budget", "INTEGER"), ("top_k", "INTEGER"), ("z", "DOUBLE"), ("rounds", "INTEGER"),
        ("round_size", "INTEGER"), ("replay_of", "VARCHAR")]),
}


def typed_json_type(table: str) -> str:
    """The DuckDB type of `table`'s typed column (TYPED_JSON)."""
    _, _, members = TYPED_JSON[table]
    return "STRUCT(" + ", ".join(f'"{name}" {type_}' for name, type_ in members) + ")"


def typed_members_sql(table: str) -> list[tuple[str, str, str]]:
    """(member, its type, its SQL over the JSON column) of `table`'s typed column."""
    source, _, members = TYPED_JSON[table]
    return [(name, type_, f"({source} ->> '{name}')::{type_}") for name, type_ in members]


def typed_json_sql(table: str) -> str:
    """`table`'s typed column, over its JSON column: the one rule that writes and fills it."""
    return ("struct_pack(" + ", ".join(f'"{name}" := {sql}' for name, _, sql in typed_members_sql(table))
            + f")::{typed_json_type(table)}")


# Columns added after a table was first declared: a warehouse made before them gains them in place.
ADDED_COLUMNS = {
    "raw.loads": [("forgotten_at", "timestamp"), ("n_blank_lines", "integer")],
    "raw.exported_pairs": [("pair_id", "varchar")],
    # the generator a published stats file describes (--generator-model, or a model-matrix file's name)
    "raw.published_stats": [("generator_model", "varchar")],
    "raw.pairs": [("source_run", "varchar"), ("row_idx", "integer"), ("pos_messages", "json"),
                  ("neg_messages", "json"), ("prompt_set", "varchar"), ("record_id", "varchar"),
                  # the anchored protocol's no-persona baseline: what was sent, and the answer both poles
                  # are judged against (null under the guide's protocols)
                  ("base_prompt", "varchar"), ("base_response", "varchar")],
    # the pair a paid call was made for, and what for (generation_pos|generation_neg|generation
    # for a control arm's one generation, or the judge criterion): cost per pair and per cell
    "raw.api_calls": [("pair_id", "varchar"), ("purpose", "varchar")],
    # |v| and the layer's mean residual norm over the scenario's prompt tokens (unsteered), so a
    # coefficient compares across models and layers (coef_rel_norm); the server a remote sweep ran on
    "raw.steering_generations": [("vector_norm", "double"), ("residual_norm", "double"),
                                 ("steering_backend", "varchar")],
    # leave-one-pair-out projections (issue 29): AUROC and d' must not score a pair by its own vector
    "raw.activation_pair_stats": [("pos_heldout_projection", "double"), ("neg_heldout_projection", "double"),
                                  ("cosine_to_others_mean", "double"), ("cosine_sq_to_others_mean", "double")],
}


SCHEMA_VERSION = 2
# 1: rows were shared by every load that brought the same bytes; record ids were md5(measurement || line)
# 2: a load owns its rows (keys include load_id); record ids hash the parsed record, canonically
#    (warehouse.keys.record_id_sql); raw.pairs keeps its source record's id
PER_LOAD_TABLES = ("persona_pairs", "templates", "template_catalog", "scenarios")


# every table RAW_DDL declares
RAW_TABLES = tuple(re.findall(r"create table if not exists (raw\.\w+)", RAW_DDL))


def raw_columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """`raw.<table>` -> {column: its data type} for every table of the raw schema, in one catalog query."""
    have: dict[str, dict[str, str]] = {}
    for table, column, type_ in con.execute("select 'raw.' || table_name, column_name, data_type "
                                            "from information_schema.columns where table_schema = 'raw' "
                                            "and table_catalog = current_database()").fetchall():
        have.setdefault(table, {})[column] = type_
    return have


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """Create the raw schema and its tables if they are missing, add newer columns and migrate a
    warehouse of an older raw version in place, losing nothing (idempotent; cheap once current:
    one catalog query says every table and added column is there, and RAW_DDL's ~30 statements are
    not run). Returns the raw schema's columns as raw_columns reads them (ensure_typed_json's, the
    typed tables' columns)."""
    have = raw_columns(con)
    fresh = "raw.loads" not in have
    if not all(table in have for table in RAW_TABLES) or any(
            name not in have.get(table, {}) for table, columns in ADDED_COLUMNS.items() for name, _ in columns):
        con.execute(RAW_DDL)
        for table, columns in ADDED_COLUMNS.items():
            for name, type_ in columns:
                con.execute(f"alter table {table} add column if not exists {name} {type_}")
        have = raw_columns(con)
    version = con.execute("select max(version) from raw.schema_version").fetchone()[0]
    if version is None and fresh:
        con.execute("insert into raw.schema_version values (?, now()::timestamp)", [SCHEMA_VERSION])
    elif (version or 1) < SCHEMA_VERSION:
        migrate(con, version or 1)
        have = raw_columns(con)   # the migration rebuilt tables
    # exported records loaded before pair ids were stored get theirs (once; a no-op afterwards)
    con.execute(f"update raw.exported_pairs set pair_id = {EXPORTED_PAIR_ID_SQL} where pair_id is null")
    ensure_typed_json(con, have)
    # the typed tables' `fields` (each known field, typed) and `extra` (the record's other top-level
    # fields, one JSON object or NULL) are ingest's columns (its checks own which fields are known):
    # ingest.typed.ensure_current runs this and then adds and fills them
    return have


def ensure_typed_json(con: duckdb.DuckDBPyConnection, have: dict[str, dict[str, str]]) -> None:
    """Each TYPED_JSON table has its typed column with this release's type (added, or derived again
    whole when the members changed), and every row has it: rows of a warehouse made before the column,
    or copied in without it, are typed by the rule append types new rows by (a no-op once current)."""
    for table, (_, column, _) in TYPED_JSON.items():
        ensure_column(con, table, column, typed_json_type(table), have)
        con.execute(f"update {table} set {column} = {typed_json_sql(table)} where {column} is null")


def ensure_column(con: duckdb.DuckDBPyConnection, table: str, column: str, declared: str,
                  columns: dict[str, dict[str, str]]) -> bool:
    """`table` has `column` of type `declared`: added when missing, dropped and added again when an
    earlier release declared another type (its values are derived ones, to fill again). True when the
    column was (re)added, i.e. holds no value yet. `columns`: the raw schema's columns as raw_columns
    read them since the last change to `table`."""
    have = columns.get(table, {}).get(column)
    if have and _normalised(have) == _normalised(declared):
        return False
    if have:
        con.execute(f"alter table {table} drop column {column}")
    con.execute(f"alter table {table} add column {column} {declared}")
    return True


def _normalised(type_: str) -> str:
    return type_.replace('"', "").replace(" ", "").upper()


def migrate(con: duckdb.DuckDBPyConnection, version: int) -> None:
    """Bring a raw schema of `version` to SCHEMA_VERSION in one transaction: every row is kept.

    1 -> 2: the candidate tables' key becomes (record_id, load_id) (their tables are rebuilt:
    DuckDB cannot change a primary key in place) and every record id is recomputed over the
    parsed record. Rows that version 1 shared between loads stay with the load that stored them.
    """
    con.begin()
    try:
        for table in PER_LOAD_TABLES:
            if _primary_key(con, table) == ["record_id"]:
                _rebuild(con, table)
        rekey = f"coalesce(try({record_id_sql('measurement_id', 'record')}), md5(record::varchar))"
        for table in ("exported_pairs", "published_stats"):
            con.execute(f"update raw.{table} set record_id = {rekey}")
        plain = f"coalesce(try({record_id_sql('null', 'record')}), md5(record::varchar))"
        for table in ("persona_pairs", "scenarios"):
            con.execute(f"update raw.{table} set record_id = {plain}")
        con.execute("insert into raw.schema_version values (?, now()::timestamp)", [SCHEMA_VERSION])
    except BaseException:
        con.rollback()
        raise
    con.commit()


def _primary_key(con, table: str) -> list[str] | None:
    row = con.execute("select constraint_column_names from duckdb_constraints() where schema_name = 'raw' "
                      "and table_name = ? and constraint_type = 'PRIMARY KEY'", [table]).fetchone()
    return list(row[0]) if row else None


def _rebuild(con, table: str) -> None:
    """Recreate raw.<table> from RAW_DDL and copy its rows over by column name."""
    ddl = re.search(rf"create table if not exists raw\.{table} \(.*?\n\);", RAW_DDL, re.S).group(0)
    con.execute(f"alter table raw.{table} rename to {table}__v1")
    con.execute(ddl)
    con.execute(f"insert into raw.{table} by name select * from raw.{table}__v1")
    con.execute(f"drop table raw.{table}__v1")
