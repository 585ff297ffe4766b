{#- Incremental by measurement.

    A model configured with incremental_by_measurement() stores, on every row, the version
    of the measurement it was computed from (int_measurement_versions: row counts, last
    load, the derivation vars). A later build recomputes only the measurements whose
    version it has not stored, and replaces their rows (delete+insert on measurement_id);
    adding one small run to a large warehouse therefore touches that run's rows only.
    A full build, `psw build --full-refresh`, or a new warehouse computes everything.
    A table built before the versions existed gains the column (sync_all_columns) and
    every measurement is recomputed; so does a table that lacks a column the model's yml
    documents (a release added it: template_scores' protocol), so a plain `psw build` after an
    upgrade fills it for every measurement. After editing the SQL of such a model otherwise
    (a changed formula, no new column), build with --full-refresh.
    The rows of the measurements a build recomputes are deleted first (a pre-hook), so a
    measurement that now yields no rows (say the anchored load of a mixed measurement was
    forgotten) keeps none: delete+insert alone replaces only the measurements it inserts.
    every_measurement=true keeps a row for every measurement of stg_raw__measurements, those
    with no version too (a stats file's measurement has no pairs): they are recomputed on every
    build, which costs nothing (they have no rows to read).
    context='<macro>' is for a model whose rows also read what is not their measurement's own rows (a
    control arm from another measurement, a persona pair's definition, the measurement's settings).
    The model stores on each row `context_version`, a hash of what that row read beyond its
    measurement; the macro, given the stored table, returns (measurement_id, stored, current): each
    stored row's hash and the hash of its context now (macros/contexts.sql). A build also
    recomputes the measurements where the two differ (one query, psw_context_changed), so a changed
    control arm or persona pair recomputes the measurements that show it, and nothing else. -#}

{% macro incremental_by_measurement(every_measurement=false, context=none) -%}
    {#- the versions are read in conditional blocks below: declare the dependency for dbt -#}
    -- depends_on: {{ ref('int_measurement_versions') }}
    {%- set kept = 'stg_raw__measurements' if every_measurement else 'int_measurement_versions' %}
    -- depends_on: {{ ref(kept) }}
    {#- a measurement whose raw rows are all gone (`psw forget`) leaves no version: drop its rows;
        then check the model's guarantees (dbt runs a model's own hooks after the project's, so the
        project-wide check skips incremental models: it would see the dropped rows) -#}
    {{ config(materialized='incremental', unique_key='measurement_id', psw_context=context,
              incremental_strategy='delete+insert', on_schema_change='sync_all_columns',
              pre_hook=["{% if is_incremental() %}delete from {{ this }} where {{ measurements_to_build(every_measurement="
                        ~ every_measurement ~ ") }}{% endif %}"],
              post_hook=["delete from {{ this }} where measurement_id not in
                         (select measurement_id from {{ psw_kept_relation('" ~ kept ~ "') }})",
                         "{{ psw_enforce_guarantees(after_cleanup=true) }}",
                         "{{ psw_note_built_versions('" ~ kept ~ "') }}"]) }}
{%- endmacro %}

{#- A boolean over `column`: true for the measurements this build (re)computes (with
    every_measurement, also those of stg_raw__measurements that have no version). The ids are read
    once per build (psw_measurements_to_build) and written into the SQL as constants: DuckDB then
    pushes the filter into the scans of the raw tables and under staging's de-duplication
    (macros/held_once.sql), so adding a run reads that run's rows only; a subquery kept every row
    of raw.exported_pairs flowing through the de-duplication's anti join first (0.28 s of
    int_measurement_protocols' 0.48 s at 1M pairs, for a 64-pair run). -#}
{% macro measurements_to_build(column='measurement_id', every_measurement=false) -%}
    {%- if psw_stored_table_current('measurement_version') -%}
    {%- set ids = psw_measurements_to_build(every_measurement) -%}
    {%- do psw_note_build_scope(ids) -%}
    {{ psw_measurement_in(column, ids) }}
    {%- else -%}
    {%- do psw_note_build_scope(none) -%}
    true  {#- a full build, or a table from before the versions: every measurement -#}
    {%- endif -%}
{%- endmacro %}

{#- Whether `this`, as stored before this build, holds `column` (what its rows were built from) and every
    column the model's yml documents: a stored table that lacks one predates it, and its rows are all
    recomputed, not left with the new column null. False on a first or full build. Asked by the models
    incremental by measurement (measurements_to_build) and by template (macros/incremental_by_template.sql). -#}
{% macro psw_stored_table_current(column) -%}
    {%- set stored = psw_columns_before_build() if is_incremental() else [] -%}
    {%- set documented = (model.get('columns') or {}).keys() | map('lower') | list -%}
    {{ return(column in stored and not (documented | reject('in', stored) | list)) }}
{%- endmacro %}

{#- What this build of `this` recomputes, as measurements_to_build found it: the ids, or none for every
    measurement. Kept for the model's guarantee checks (psw_build_scope); a model whose calls disagree
    (none expected) is taken as recomputing every measurement. -#}
{% macro psw_note_build_scope(ids) -%}
    {%- set scopes = graph.setdefault('psw_build_scope', {}) -%}
    {%- set key = invocation_id ~ ' ' ~ this -%}
    {%- if key in scopes and scopes[key] != ids -%}
        {%- do scopes.update({key: none}) -%}
    {%- elif key not in scopes -%}
        {%- do scopes.update({key: ids}) -%}
    {%- endif -%}
{%- endmacro %}

{#- A boolean over an incremental model's own rows: true for the rows this build wrote (the measurements
    it recomputed), for its guarantee checks (psw_enforce_guarantees): the rows of the measurements it
    kept were checked when they were built and are as they were. 'true' (every row) unless the model's
    SQL named the measurements it recomputes (measurements_to_build): a first build, --full-refresh, a
    table from before the versions, or a model that did not ask. -#}
{% macro psw_build_scope() -%}
    {%- set scopes = graph.get('psw_build_scope', {}) -%}
    {%- set ids = scopes.get(invocation_id ~ ' ' ~ this) -%}
    {%- if ids is none -%}
    true
    {%- else -%}
    {{ psw_measurement_in('measurement_id', ids) }}
    {%- endif -%}
{%- endmacro %}

{#- `column` is one of the measurement ids `ids`, written as quoted constants (DuckDB pushes them into
    the raw scans); false when there are none (nothing is out of date). -#}
{% macro psw_measurement_in(column, ids) -%}
    {%- if ids -%}
    ({{ column }} in ({% for id in ids %}'{{ id | replace("'", "''") }}'{{ ', ' if not loop.last }}{% endfor %}))
    {%- else -%}
    false
    {%- endif -%}
{%- endmacro %}

{#- The ids of the measurements whose current version `this` has not stored (with every_measurement,
    and those of stg_raw__measurements with no version), sorted. One query per dbt invocation reads them
    for every incremental model whose table has versions (psw_stale_measurements), in the post-hook of
    int_measurement_versions (psw_note_stale_measurements), which every incremental model reads, so
    before any of them is compiled, on one thread; a build that does not select that view reads them
    here, at the first incremental model's compilation (two threads may both read them then: each read
    is made before any incremental model writes, so both give the same). Each model's SQL and its
    pre-hook delete then name the same measurements. -#}
{% macro psw_measurements_to_build(every_measurement=false) -%}
    {%- set stale = psw_stale_for_build() -%}
    {%- set ids = stale.get(this | string, []) + (stale.get('', []) if every_measurement else []) -%}
    {%- if model.config.get('psw_context') -%}{%- set ids = ids + psw_context_changed(model.config.get('psw_context')) -%}{%- endif -%}
    {{ return(ids | unique | sort) }}
{%- endmacro %}

{#- The measurements of `this` whose stored rows read a context that has changed since they were built
    (incremental_by_measurement's context=: the macro named `name`). Read once per dbt invocation and
    model (the SQL and the pre-hook both ask), before the build writes. A table without the column is
    recomputed whole anyway (measurements_to_build: the column is documented). -#}
{% macro psw_context_changed(name) -%}
    {%- set cache = graph.setdefault('psw_context_changed', {}) -%}
    {%- set key = invocation_id ~ ' ' ~ this -%}
    {%- if key not in cache -%}
        {%- set ids = [] -%}
        {%- if 'context_version' in psw_columns_before_build() -%}
            {%- set query = "select distinct measurement_id from (" ~ context[name](this)
                ~ ") as rows where stored is distinct from current" -%}
            {%- for row in run_query(query).rows if row[0] is not none -%}{%- do ids.append(row[0]) -%}{%- endfor -%}
        {%- endif -%}
        {%- do cache.update({key: ids}) -%}
    {%- endif -%}
    {{ return(cache[key]) }}
{%- endmacro %}

{#- Post-hook of int_measurement_versions: copy the versions it computes into a table for this build
    (psw_versions_relation), then read the measurements each incremental model will recompute
    (psw_measurements_to_build) now, once (with --full-refresh none is asked). Returns no SQL. -#}
{% macro psw_note_stale_measurements() -%}
    {%- if execute -%}
    {%- do psw_incremental_relations() -%}  {#- and whether psw's note table exists (psw_built_versions_table) -#}
    {%- if psw_built_versions_table() -%}
        {%- set copy = api.Relation.create(database=this.database, schema='meta', identifier='build_measurement_versions') -%}
        {%- do run_query('create or replace table ' ~ copy ~ ' as select * from ' ~ this) -%}
        {%- do graph.setdefault('psw_versions_copy', {}).update({invocation_id: copy}) -%}
    {%- endif -%}
    {%- if not flags.FULL_REFRESH -%}{%- do psw_stale_for_build() -%}{%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- Where this build reads the measurement versions. int_measurement_versions is a view (always current,
    whatever a build selects) that counts every raw row by measurement: ~10 ms at 1M pairs, and a build
    that adds a run read it ~60 times (each incremental model's versions, its cleanup and its note, the
    stale measurements, the examples view's scope). When this build built it, its post-hook copied it
    into meta.build_measurement_versions (psw_note_stale_measurements), and every model built after it,
    which is every model that reads the versions (each reads the view), reads the copy: the raw tables
    do not change during a build. A build that did not select the view (`--select int_exported_pairs`)
    and dbt run without psw's note table read the view (dbt's unit tests, its ref: measurement_version). -#}
{% macro psw_versions_relation() -%}
    {%- if not execute -%}{{ return(ref('int_measurement_versions')) }}{%- endif -%}  {#- parsing -#}
    {%- set copy = graph.get('psw_versions_copy', {}).get(invocation_id) -%}
    {%- if copy is not none -%}{{ return(copy) }}{%- endif -%}
    {{ return(psw_relation_of(graph.nodes['model.' ~ project_name ~ '.int_measurement_versions'])) }}
{%- endmacro %}

{#- The measurements an incremental model keeps rows of: `kept` (incremental_by_measurement), the versions
    read where this build reads them (psw_versions_relation). -#}
{% macro psw_kept_relation(kept) -%}
    {{ return(psw_versions_relation() if kept == 'int_measurement_versions' else ref(kept)) }}
{%- endmacro %}

{#- Every incremental model's relation; their stored columns read once per dbt invocation (psw_read_columns). -#}
{% macro psw_incremental_relations() -%}
    {%- set cache = graph.setdefault('psw_incremental_relations', {}) -%}
    {%- if invocation_id not in cache -%}
        {%- set relations = [] -%}
        {%- for node in graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
              | selectattr('config.materialized', 'equalto', 'incremental') | sort(attribute='unique_id') -%}
            {%- do relations.append(psw_relation_of(node)) -%}
        {%- endfor -%}
        {%- do psw_read_columns(relations, psw_relation_of(graph.nodes['model.' ~ project_name ~ '.int_measurement_versions']).database) -%}
        {%- do cache.update({invocation_id: relations}) -%}
    {%- endif -%}
    {{ return(cache[invocation_id]) }}
{%- endmacro %}

{#- psw_stale_measurements, read once per dbt invocation and kept in dbt's graph for it. -#}
{% macro psw_stale_for_build() -%}
    {%- set cache = graph.setdefault('psw_measurements_to_build', {}) -%}
    {%- if invocation_id not in cache -%}
        {%- do cache.update({invocation_id: psw_stale_measurements()}) -%}
    {%- endif -%}
    {{ return(cache[invocation_id]) }}
{%- endmacro %}

{#- {relation: [measurement ids whose current version it has not stored]} for every incremental model
    whose table has the measurement_version column, and under '' the measurements of
    stg_raw__measurements with no version. One run_query (per model it was ~25 ms of dbt's Python: a
    macro context, an agate table; +0.2 s on a pilot's add-run build), none when no incremental table
    exists yet (a first build: dbt's relation cache says so without a query). -#}
{% macro psw_stale_measurements() -%}
    {%- set relations = psw_incremental_relations() -%}
    {%- set versions = psw_versions_relation() -%}
    {%- set measurements = psw_relation_of(graph.nodes['model.' ~ project_name ~ '.stg_raw__measurements']) -%}
    {%- set parts = ["select '' as relation, measurements.measurement_id from " ~ measurements ~ " as measurements
        where measurements.measurement_id not in (select unversioned.measurement_id from " ~ versions ~ " as unversioned)"] -%}
    {%- set noted = psw_built_versions_table() -%}
    {%- for relation in relations -%}
        {%- if 'measurement_version' in psw_columns_before_build(relation) -%}
            {%- set name = relation | string | replace("'", "''") -%}
            {%- do parts.append("select '" ~ name ~ "', current.measurement_id from "
                ~ versions ~ " as current where current.measurement_version not in (select distinct built.measurement_version from "
                ~ relation ~ " as built where built.measurement_version is not null"
                ~ (" union all select noted.measurement_version from " ~ noted ~ " as noted where noted.relation = '" ~ name ~ "'"
                   if noted else "") ~ ")") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set stale = {} -%}
    {%- if parts | length > 1 -%}  {#- with no versioned table, no model asks -#}
    {%- for row in run_query(parts | join('\nunion all\n')).rows if row[1] is not none -%}
        {%- do stale.setdefault(row[0], []).append(row[1]) -%}
    {%- endfor -%}
    {%- endif -%}
    {{ return(stale) }}
{%- endmacro %}

{#- The columns of every relation in `relations` (all in `database`) and whether meta.incremental_versions
    exists, in one query, kept where psw_columns_before_build and psw_built_versions_table look (a relation
    that does not exist has no columns, as DESCRIBE through dbt says). psw_stale_measurements asked
    dbt's relation cache and DESCRIBEd each incremental table, ~15 statements and ~0.15 s on the path
    every model of an add-run build waits on. -#}
{% macro psw_read_columns(relations, database) -%}
    {%- set names = ["'meta.incremental_versions'"] -%}
    {%- for relation in relations -%}
        {%- do names.append("'" ~ (relation.schema ~ '.' ~ relation.identifier) | replace("'", "''") ~ "'") -%}
    {%- endfor -%}
    {%- set found = {} -%}
    {%- for row in run_query("select table_schema || '.' || table_name, to_json(list(lower(column_name) order by ordinal_position))
            from information_schema.columns where table_catalog = '" ~ database ~ "'
            and table_schema || '.' || table_name in (" ~ names | join(', ') ~ ") group by all").rows -%}
        {%- do found.update({row[0]: fromjson(row[1])}) -%}
    {%- endfor -%}
    {%- set columns = graph.setdefault('psw_columns_before_build', {}) -%}
    {%- for relation in relations -%}
        {%- do columns.update({invocation_id ~ ' ' ~ relation: found.get(relation.schema ~ '.' ~ relation.identifier, [])}) -%}
    {%- endfor -%}
    {%- do graph.setdefault('psw_built_versions_table', {}).update({invocation_id:
            api.Relation.create(database=database, schema='meta', identifier='incremental_versions')
            if 'meta.incremental_versions' in found else none}) -%}
{%- endmacro %}

{#- meta.incremental_versions: for each incremental model, the measurement versions it was last computed
    from, rows or none. A measurement that yields no rows in a model (a guide run in the anchored
    protocol's models) stores no version beside rows, so without this note every build recomputed it (to
    nothing: int_anchored_pairs read every pair of a 1M-pair guide measurement to find none, each build).
    psw creates the table before a build (warehouse/build_state.py); a warehouse without it (dbt run by
    itself) keeps no note, and such measurements are recomputed as before. The relation, or none; read once
    per dbt invocation by psw_read_columns. -#}
{% macro psw_built_versions_table() -%}
    {%- set cache = graph.setdefault('psw_built_versions_table', {}) -%}
    {%- if invocation_id not in cache -%}  {#- not read with the stale measurements (--full-refresh): ask now -#}
        {%- set versions = psw_relation_of(graph.nodes['model.' ~ project_name ~ '.int_measurement_versions']) -%}
        {%- do psw_read_columns([], versions.database) -%}
    {%- endif -%}
    {{ return(cache[invocation_id]) }}
{%- endmacro %}

{#- Post-hook of an incremental model (after its guarantees): note the versions of the measurements this
    build recomputed (psw_build_scope; every measurement after a full build), and forget those of
    measurements that no longer exist. Returns SQL; `select 1` when the warehouse keeps no note. -#}
{% macro psw_note_built_versions(kept) -%}
    {%- if execute and psw_built_versions_table() -%}
    {{ psw_note_versions(psw_build_scope() | trim, psw_kept_relation(kept)) }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- The note of `this` in meta.incremental_versions: the measurements in `scope` (SQL over measurement_id)
    noted at `version` (SQL over int_measurement_versions' row), and the notes of measurements no longer
    in `kept` forgotten. Written by incremental models (psw_note_built_versions) and by a view checked by
    measurement (psw_note_view_checked, macros/guarantees.sql). -#}
{% macro psw_note_versions(scope, kept, version='measurement_version') -%}
    {%- set noted = psw_built_versions_table() -%}
    {%- set name = this | string | replace("'", "''") -%}
    delete from {{ noted }} where relation = '{{ name }}'
        and ({{ scope }} or measurement_id not in (select measurement_id from {{ kept }}));
    insert into {{ noted }} select '{{ name }}', measurement_id, {{ version }}
        from {{ psw_versions_relation() }} where {{ scope }}
{%- endmacro %}

{#- The current version of the measurement in `column` (stored beside the rows). -#}
{% macro measurement_version(column='measurement_id') -%}
    {%- set versions = ref('int_measurement_versions') %}  {#- the ref, for dbt's graph and for unit tests' input -#}
    (select v.measurement_version
     from (select measurement_id as versioned_id, measurement_version
           from {{ psw_versions_relation() if model.resource_type == 'model' else versions }}) as v
     where v.versioned_id = {{ column }})
{%- endmacro %}

{#- Every var that a stored derivation reads, and the judge panels (the seed judge_dimensions),
    as JSON: changing one rebuilds everything. -#}
{% macro derivation_vars_json() -%}
    {%- set names = ['lexical_stopwords', 'refusal_phrases', 'strict_min_axis_delta', 'strict_max_off_axis_problem',
                     'strict_max_style_abs_delta', 'strict_max_abs_word_delta_frac', 'recommended_min_n',
                     'recommended_min_strict_pass_rate', 'recommended_min_axis_delta',
                     'recommended_max_off_axis_problem', 'recommended_max_style_abs_delta',
                     'recommended_max_persona_echo_rate', 'recommended_max_refusal_or_ai_break_rate',
                     'published_tolerance', 'screening_min_margin_cosine', 'layer_choice_min_pairs',
                     'layer_choice_min_auroc', 'steering_min_coherence', 'first_person_words',
                     'bootstrap_replicates', 'bootstrap_seed', 'bootstrap_level',
                     'bootstrap_max_pairs', 'top_k', 'anchored_axis_delta_threshold', 'anchored_min_side_threshold',
                     'anchored_off_axis_threshold', 'anchored_recommended_min_n',
                     'anchored_recommended_min_strict_pass_rate', 'effective_pair_min_coherence',
                     'effective_pair_min_trait'] -%}
    {%- set values = {} -%}
    {%- for name in names -%}{%- do values.update({name: var(name)}) -%}{%- endfor -%}
    {%- do values.update({'judge_panels': judge_panels()}) -%}
    {{ tojson(values, sort_keys=true) | replace("'", "''") }}
{%- endmacro %}

{#- The (lower-cased) column names `relation` (default: `this`) has before this build writes it. A model's
    SQL and its pre-hook ask several times (measurements_to_build), psw_stale_measurements asks for every
    incremental model at the first one's compilation, and each read is a DuckDB `describe` through
    dbt (warehouse/dbt_columns.py): read once per dbt invocation and model, kept in dbt's graph for
    that invocation (a process that runs dbt again, `psw collect --adaptive`, has a new invocation id). The columns
    do not change between the SQL's compilation and the pre-hook: the build writes after both. -#}
{% macro psw_columns_before_build(relation=none) -%}
    {%- set relation = relation or this -%}
    {%- set cache = graph.setdefault('psw_columns_before_build', {}) -%}
    {%- set key = invocation_id ~ ' ' ~ relation -%}
    {%- if key not in cache -%}
        {%- do cache.update({key: adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list}) -%}
    {%- endif -%}
    {{ return(cache[key]) }}
{%- endmacro %}

{#- dbt's default__diff_column_data_types (on_schema_change, each incremental build) finds each source
    column's stored twin with `target_columns | selectattr('name', 'equalto', ...) | list | first`:
    n x n attribute reads through Jinja's sandbox, ~0.1 s of dbt's Python for one of these ~60-column
    models (py-spy, 2026-12-03). The same result from a lookup by name (the first twin, as `first`). -#}
{% macro duckdb__diff_column_data_types(source_columns, target_columns) %}
  {%- set by_name = {} -%}
  {%- for tc in target_columns if tc.name not in by_name -%}{%- do by_name.update({tc.name: tc}) -%}{%- endfor -%}
  {%- set result = [] -%}
  {%- for sc in source_columns -%}
    {%- set tc = by_name.get(sc.name) -%}
    {%- if tc and sc.expanded_data_type != tc.expanded_data_type and not sc.can_expand_to(other_column=tc) -%}
      {%- do result.append({'column_name': tc.name, 'new_type': sc.expanded_data_type}) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(result) }}
{%- endmacro %}
