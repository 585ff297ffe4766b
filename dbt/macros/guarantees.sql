-- The two query shapes of the `guarantees` data test (tests/generic/guarantees.sql): rows that
-- break a rule, and key values that repeat. Each returns column_name, rule, value, check_no.

{% macro psw_check_rows(model, check_no, column, rule, failing, scope='true') -%}
select '{{ column | replace("'", "''") }}' as column_name, '{{ rule | replace("'", "''") }}' as rule,
       ({{ column }})::varchar as value, {{ check_no }} as check_no
from {{ model }} where {% if scope != 'true' %}{{ scope }} and ({{ failing }}){% else %}{{ failing }}{% endif %}
{%- endmacro %}

{#- Values repeated among the rows `where` holds. With a scope (the rows a build wrote), only groups
    that hold a row in scope: those whose first column's value some row in scope has (a semi join,
    not a group by over the whole table). -#}
{% macro psw_check_repeated(model, columns, rule, where, nulls_fail, check_no, scope='true') -%}
select '{{ columns | join(", ") | replace("'", "''") }}' as column_name, '{{ rule }}' as rule,
       concat_ws(', ', {% for column in columns %}({{ column }})::varchar{{ ", " if not loop.last }}{% endfor %}) as value,
       {{ check_no }} as check_no
from {{ model }} where ({{ where }})
{%- if scope != 'true' %}
  and ({{ columns[0] }} in (select {{ columns[0] }} from {{ model }} where {{ scope }})
       or ({{ columns[0] }} is null and exists (select 1 from {{ model }} where {{ scope }} and {{ columns[0] }} is null)))
{%- endif %}
group by {{ columns | join(', ') }}
having count(*) > 1{% if nulls_fail %} or {{ columns[0] }} is null{% endif %}
{%- endmacro %}

{# The violation query of one `guarantees` test (tests/generic/guarantees.sql): its rules over `model`.
   Shared by the test node and by `psw_enforce_guarantees`, the post-hook that checks a model's
   guarantees as it is built. #}
{% macro psw_guarantee_checks(model, primary_key=[], unique=[], not_null=[], unique_combination=[], accepted_values={},
                              within_range={}, expression_true={}, relationships={}, read_once=false, scope='true',
                              measured_rows=none) -%}
{#- read_once: `model` is a view, which each check would otherwise run (plan and execute) again: its rows
    are read once, as a materialized CTE (DuckDB keeps only the columns the checks name). The examples
    view's 10 checks: 0.10 -> 0.02 s on the pilot, 0.10 -> 0.05 s at 100k pairs. -#}
{#- scope: SQL over the model's columns, true for the rows to check (an incremental model's post-hook:
    the rows its build wrote, psw_build_scope); 'true' checks every row. A view read once with a scope
    (psw_view_scope) checks its rows in scope, keys included: its rows are `measured_rows`' (the model
    its config names), one each, so a key repeated across measurements repeats in that model, whose own
    check compares its keys with every row; and its relationships over every row of `measured_rows`
    (a target row can go, through any model the view reads, whatever measurement the row is of). -#}
{%- set rows, key_model, row_scope, relationship_model = model, model, scope, model -%}
{%- if read_once -%}
  {%- set model = '_psw_in_scope' if scope != 'true' else '_psw_checked' -%}
  {%- set key_model, relationship_model = model, measured_rows if scope != 'true' else model -%}
  {%- set view_scope, scope, row_scope = scope, 'true', 'true' -%}
{%- endif -%}
{%- set checks = [] -%}
{%- for column in primary_key -%}
  {%- do checks.append(psw_check_repeated(key_model, [column], 'primary key: null or repeated', 'true', true, checks | length, scope)) -%}
{%- endfor -%}
{%- for column in unique -%}
  {%- do checks.append(psw_check_repeated(key_model, [column], 'unique: repeated', column ~ ' is not null', false, checks | length, scope)) -%}
{%- endfor -%}
{%- for item in not_null -%}
  {%- if item is mapping -%}{%- set column, where = (item | list)[0], item.values() | first -%}
  {%- else -%}{%- set column, where = item, 'true' -%}{%- endif -%}
  {%- do checks.append(psw_check_rows(model, checks | length, column, 'not null', column ~ ' is null and (' ~ where ~ ')', row_scope)) -%}
{%- endfor -%}
{%- for item in unique_combination -%}
  {%- if item is mapping -%}{%- set columns, where = item.columns, item.get('where', 'true') -%}
  {%- else -%}{%- set columns, where = item, 'true' -%}{%- endif -%}
  {%- do checks.append(psw_check_repeated(key_model, columns, 'unique combination: repeated', where, false, checks | length, scope)) -%}
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
  {%- set listed = [] -%}{%- for value in values -%}{%- do listed.append("'" ~ value ~ "'") -%}{%- endfor -%}
  {%- do checks.append(psw_check_rows(model, checks | length, column, 'not one of ' ~ values | join(', '),
        column ~ '::varchar not in (' ~ listed | join(', ') ~ ')', row_scope)) -%}
{%- endfor -%}
{%- for column, bounds in within_range.items() -%}
  {#- [min, max], or {between: [min, max], where: sql}: only on the rows where `where` holds -#}
  {%- set where = bounds.get('where', 'true') if bounds is mapping else 'true' -%}
  {%- set bounds = bounds.between if bounds is mapping else bounds -%}
  {%- set outside = column ~ ' < ' ~ bounds[0] ~ ' or ' ~ column ~ ' > ' ~ bounds[1] -%}
  {%- do checks.append(psw_check_rows(model, checks | length, column,
        'outside [' ~ bounds[0] ~ ', ' ~ bounds[1] ~ ']' ~ ('' if where == 'true' else ' where ' ~ where),
        outside if where == 'true' else '(' ~ where ~ ') and (' ~ outside ~ ')', row_scope)) -%}
{%- endfor -%}
{%- for column, expression in expression_true.items() -%}
  {%- do checks.append(psw_check_rows(model, checks | length, column, 'not true: ' ~ expression | trim,
        'not coalesce(' ~ expression ~ ', false)', row_scope)) -%}
{%- endfor -%}
{%- for column, target in relationships.items() -%}
  {%- set table = (target.to | string).split('.')[-1] | replace('"', '') | replace('__dbt__cte__', '') -%}
  {%- do checks.append(psw_check_rows(relationship_model, checks | length, column, 'not found in ' ~ table ~ '.' ~ target.field,
        column ~ ' is not null and ' ~ column ~ ' not in (select ' ~ target.field ~ ' from ' ~ target.to ~ ')', scope)) -%}
{%- endfor -%}
{%- if checks and read_once %}with {% if view_scope != 'true' -%}
_psw_in_scope as materialized (select * from {{ rows }} where {{ view_scope }})
{%- else -%}
_psw_checked as materialized (select * from {{ rows }})
{%- endif %}
{% endif -%}
{{ checks | join('\nunion all\n') if checks else "select null::varchar as column_name, null::varchar as rule, null::varchar as value, 0 as check_no where false" }}
{%- endmacro %}

{# Post-hook of every model (dbt_project.yml): checks `guarantees` as models are built, inside the
   model's own transaction. A model checks its own, and those of the ephemeral models it folds in
   whose first reader it is (psw_first_reader: each is checked once per build, over the same CTEs the
   model was built from). A violation fails that model, and skips what reads it, with one line
   `psw guarantee broken: model.column = value: rule (test name)`. So `psw build` runs no guarantees
   test node (it excludes test_name:guarantees); `dbt test` still runs every one as a test. #}
{% macro psw_enforce_guarantees(after_cleanup=false) -%}
{#- an incremental model checks after its own cleanup hook (macros/incremental.sql) -#}
{%- if execute and model.config.materialized != 'ephemeral'
      and (after_cleanup or model.config.materialized != 'incremental') -%}
{%- set folded = model.get('extra_ctes', []) | map(attribute='id') | list -%}
{#- the folded models first, in the order dbt folds them (what they read before them): a broken
    row is named where it first appears, not in every model built from it -#}
{%- set owners = [] -%}
{%- for id in folded if psw_first_reader(id) == model.unique_id -%}{%- do owners.append(id) -%}{%- endfor -%}
{%- do owners.append(model.unique_id) -%}
{%- set ancestors = psw_ancestors(model.unique_id) -%}
{%- set queries, scoped = [], [] -%}
{%- for test in graph.nodes.values() if test.resource_type == 'test' and test.test_metadata
      and test.test_metadata.name == 'guarantees' and test.attached_node in owners -%}
  {%- set owner = graph.nodes[test.attached_node] -%}
  {%- set kwargs = test.test_metadata.kwargs -%}
  {%- set relationships = {} -%}
  {%- for column, target in kwargs.get('relationships', {}).items() -%}
    {%- set node = graph.nodes['model.' ~ project_name ~ '.' ~ (target.to | string).split("'")[1]] -%}
    {#- a built target must be built before this model; an ephemeral one folded into it -#}
    {%- if node.unique_id not in (folded if node.config.materialized == 'ephemeral' else ancestors) -%}
      {%- do exceptions.raise_compiler_error(test.name ~ ' checks ' ~ owner.name ~ '.' ~ column ~ ' against '
            ~ node.name ~ ', which ' ~ model.name ~ ' does not read: add `-- depends_on: {{ ref(\'' ~ node.name
            ~ '\') }}` to ' ~ model.name ~ '.sql') -%}
    {%- endif -%}
    {%- do relationships.update({column: {'to': psw_relation_of(node), 'field': target.field}}) -%}
  {%- endfor -%}
  {%- set relation = this if owner.unique_id == model.unique_id else psw_relation_of(owner) -%}
  {%- set scope = psw_check_scope(owner, after_cleanup) -%}
  {%- if scope != 'true' -%}{%- do scoped.append(owner.unique_id) -%}{%- endif -%}
  {%- do queries.append("select " ~ owners.index(owner.unique_id) ~ " as owner_no, '" ~ owner.name ~ "' as model_name, '"
        ~ test.name ~ "' as test_name, * from ("
        ~ psw_guarantee_checks(relation, kwargs.get('primary_key', []), kwargs.get('unique', []),
            kwargs.get('not_null', []), kwargs.get('unique_combination', []), kwargs.get('accepted_values', {}),
            kwargs.get('within_range', {}), kwargs.get('expression_true', {}), relationships,
            read_once=owner.config.materialized == 'view', scope=scope, measured_rows=psw_measured_rows(owner)) ~ ")") -%}
{%- endfor -%}
{%- if queries -%}
{%- if folded %}with {% for cte in model.extra_ctes -%}
{#- a folded model checked over some measurements is read three times (its rows in scope, every row
    whose key one of them has, and its null keys): DuckDB would compute a CTE read more than once whole,
    then filter it; not materialized, the measurements reach its raw scans -#}
{{ cte.sql.replace(' as (', ' as not materialized (', 1) if cte.id in scoped else cte.sql }}{{ ',\n' if not loop.last }}
{%- endfor %}{% endif %}
select error(concat('psw guarantee broken: ', model_name, '.', column_name, ' = ', coalesce(value, 'null'), ': ',
                    rule, ' (test ', test_name, ')'))
from (select * from ({{ queries | join('\nunion all\n') }}) as checks
      order by owner_no, test_name, check_no, value limit 1) as first_violation
{{- psw_note_view_checked() }}
{%- endif -%}
{%- endif -%}
{%- endmacro %}

{#- The rows of `owner` whose guarantees this build checks, as SQL over its columns ('true': every row):
    - an incremental model, after its cleanup: the measurements it recomputed (psw_build_scope);
    - an ephemeral model it folds in that says `psw_rows_by_measurement` (each row is its measurement's
      own, a function of that measurement's raw rows, so they change only with the measurement's
      version, which puts the measurement in this model's scope): the same measurements. Its keys are
      still compared with every row (psw_check_repeated's semi join);
    - a view that says `psw_checked_by_measurement`: psw_view_scope. -#}
{% macro psw_check_scope(owner, after_cleanup) -%}
{%- if after_cleanup and (owner.unique_id == model.unique_id or owner.config.get('psw_rows_by_measurement')) -%}
  {{ return(psw_build_scope() | trim) }}
{%- elif owner.unique_id == model.unique_id and model.config.get('psw_checked_by_measurement') -%}
  {{ return(psw_view_scope(model.config.get('psw_checked_by_measurement'))) }}
{%- endif -%}
{{ return('true') }}
{%- endmacro %}

{#- A view checked by measurement (its config `psw_checked_by_measurement` names the models whose rows
    carry every column its rules read, each incremental by measurement, with no context; its rows are the
    first one's, one each, the other models it reads joined on their checked keys): its rules on a row's
    own values (not null, accepted values, ranges, expressions) and its keys are checked over the rows of
    the measurements
    - that the view has not yet passed at their current version and with the current definitions of it
      and of every view it reads (noted in meta.incremental_versions after its checks pass,
      psw_note_view_checked: a build whose check failed notes nothing, so the next one checks again),
    - and that a named model recomputed in this build (a table upgraded in place recomputes every
      measurement at the same version).
    A key repeated across measurements repeats in the first model, whose own check compares a key with
    every row; one repeated within a kept measurement would need a change the build checks elsewhere (a
    key of a model the view joins) or a changed definition (which checks every measurement again). Its
    relationships are checked over every row of the first model (psw_guarantee_checks): a target row can
    go whatever measurement the row is of. Every row is checked with --full-refresh (the way to apply an
    edited model), when a named model recomputed every measurement, or without the note table. Adding a
    64-pair run to 1M pairs, the build: 4.82 -> 4.55 s with the row rules by measurement (bench/bench_ab.py,
    medians of 4). Returns the SQL of the scope, kept for the note. -#}
{% macro psw_view_scope(models) -%}
{%- set noted = psw_built_versions_table() -%}
{%- if noted is none -%}{{ return('true') }}{%- endif -%}
{%- set ids, every = [], flags.FULL_REFRESH -%}
{%- set scopes = graph.get('psw_build_scope', {}) -%}
{%- for name in models -%}
  {%- set key = invocation_id ~ ' ' ~ psw_relation_of(graph.nodes['model.' ~ project_name ~ '.' ~ name]) -%}
  {%- if key in scopes -%}
    {%- if scopes[key] is none -%}{%- set every = true -%}{%- else -%}{%- do ids.extend(scopes[key]) -%}{%- endif -%}
  {%- endif -%}
{%- endfor -%}
{%- if not every -%}  {#- a first build or a full refresh checks every row: nothing to ask -#}
  {%- set row = run_query("select to_json(list(current.measurement_id) filter (where current.measurement_version || ' ' || "
        ~ psw_view_definitions() ~ " not in (select passed.measurement_version from " ~ noted ~ " as passed
        where passed.relation = '" ~ this | string | replace("'", "''") ~ "' and passed.measurement_id = current.measurement_id))), count(*)
        from " ~ psw_versions_relation() ~ " as current").rows[0] -%}
  {%- do ids.extend(fromjson(row[0]) if row[0] else []) -%}
  {%- set ids = ids | unique | sort | list -%}
  {#- every measurement: read the view once, as psw_guarantee_checks does without a scope -#}
  {%- set every = ids | length >= row[1] -%}
{%- endif -%}
{%- set scope = 'true' if every else psw_measurement_in('measurement_id', ids) | trim -%}
{%- do graph.setdefault('psw_view_checks', {}).update({invocation_id ~ ' ' ~ this: scope}) -%}
{{ return(scope) }}
{%- endmacro %}

{#- The relation whose rows a view checked by measurement takes one each (the first model its config
    `psw_checked_by_measurement` names), else none. -#}
{% macro psw_measured_rows(owner) -%}
{%- set measured = owner.config.get('psw_checked_by_measurement') -%}
{{ return(psw_relation_of(graph.nodes['model.' ~ project_name ~ '.' ~ measured[0]]) if measured else none) }}
{%- endmacro %}

{#- A hash of the definitions of this view and of every view it reads, as a scalar SQL subquery. -#}
{% macro psw_view_definitions() -%}
{%- set views = [] -%}
{%- for id in [model.unique_id] + psw_ancestors(model.unique_id) if graph.nodes[id].config.materialized == 'view' -%}
  {%- do views.append("'" ~ (graph.nodes[id].schema ~ '.' ~ graph.nodes[id].alias) | replace("'", "''") ~ "'") -%}
{%- endfor -%}
(select coalesce(md5(string_agg(schema_name || '.' || view_name || ' ' || sql, chr(10) order by schema_name, view_name)), '')
 from duckdb_views() where database_name = '{{ this.database }}' and schema_name || '.' || view_name in ({{ views | join(', ') }}))
{%- endmacro %}

{#- After a view checked by measurement passed its checks: note the measurements it checked, at their
    version and with the views' definitions (psw_view_scope); forget those no longer measured. -#}
{% macro psw_note_view_checked() -%}
{%- set scope = graph.get('psw_view_checks', {}).get(invocation_id ~ ' ' ~ this) -%}
{%- if scope -%}
{%- set versions = psw_versions_relation() -%}
;
{{ psw_note_versions(scope, versions, "measurement_version || ' ' || " ~ psw_view_definitions()) }}
{%- endif -%}
{%- endmacro %}

{# The model whose post-hook checks an ephemeral model's guarantees: of the built models that fold
   it in (read it directly or through other ephemeral models), the one built first: the fewest
   ancestors (a reader built after another one has that one among its ancestors, so more of
   them), then the first by id. A broken row is then named in the staging model it comes from,
   before any model built from it fails on its own guarantees. An ephemeral model that nothing
   built reads is a compile error: nothing would ever check it. #}
{% macro psw_first_reader(ephemeral_id) -%}
{%- set readers = psw_first_readers() -%}
{%- if ephemeral_id not in readers -%}
  {%- do exceptions.raise_compiler_error(ephemeral_id ~ ': ephemeral, and no built model reads it, so nothing checks its guarantees') -%}
{%- endif -%}
{{ return(readers[ephemeral_id][1]) }}
{%- endmacro %}

{# Every ephemeral model's first reader (psw_first_reader), as {id: [ancestors of the reader, reader]}.
   The walk over the whole graph is the same for every model's post-hook: made once per dbt
   invocation and kept in dbt's graph for it (like psw_columns_before_build; a later invocation in
   the same process, `psw collect --adaptive`, walks again). Walked per post-hook it was ~0.7 s of
   a pilot build's ~5 s of dbt-side work (bench/bench_warehouse.py). #}
{% macro psw_first_readers() -%}
{%- set cache = graph.setdefault('psw_first_readers', {}) -%}
{%- if invocation_id not in cache -%}
  {%- set readers = {} -%}
  {%- for id in graph.nodes.keys() | sort if id.startswith('model.') and graph.nodes[id].config.materialized != 'ephemeral' -%}
    {#- the ephemeral models folded into `id`: reached from it through ephemeral models only -#}
    {%- set todo = graph.nodes[id].depends_on.nodes | list -%}
    {%- set folded = [] -%}
    {%- for _ in range(10000) if todo -%}
      {%- set parent = todo.pop() -%}
      {%- if parent not in folded and graph.nodes.get(parent, {}).get('config', {}).get('materialized') == 'ephemeral' -%}
        {%- do folded.append(parent) -%}{%- do todo.extend(graph.nodes[parent].depends_on.nodes) -%}
      {%- endif -%}
    {%- endfor -%}
    {%- if folded -%}
      {%- set depth = psw_ancestors(id) | length -%}
      {%- for ephemeral in folded if ephemeral not in readers or depth < readers[ephemeral][0] -%}
        {%- do readers.update({ephemeral: [depth, id]}) -%}
      {%- endfor -%}
    {%- endif -%}
  {%- endfor -%}
  {%- do cache.update({invocation_id: readers}) -%}
{%- endif -%}
{{ return(cache[invocation_id]) }}
{%- endmacro %}

{# Every node `unique_id` reads, directly or not: built before it (and, if ephemeral, folded into it
   when a path of ephemeral models leads there). #}
{% macro psw_ancestors(unique_id) -%}
{%- set todo = graph.nodes[unique_id].depends_on.nodes | list -%}
{%- set seen = [] -%}
{%- for _ in range(10000) if todo -%}
  {%- set parent = todo.pop() -%}
  {%- if parent not in seen and parent in graph.nodes -%}
    {%- do seen.append(parent) -%}{%- do todo.extend(graph.nodes[parent].depends_on.nodes) -%}
  {%- endif -%}
{%- endfor -%}
{{ return(seen) }}
{%- endmacro %}

{# A node's relation in SQL: its table or view, or for an ephemeral model the CTE dbt folds in. #}
{% macro psw_relation_of(node) -%}
{%- if node.config.materialized == 'ephemeral' -%}
  {{ return(api.Relation.create(identifier='__dbt__cte__' ~ node.name, type='cte')) }}
{%- else -%}
  {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
{%- endif -%}
{%- endmacro %}
