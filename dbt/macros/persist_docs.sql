{#- persist_docs for DuckDB in one statement per model (dbt's own way runs the table comment and the
    column comments as two statements and reads the table's columns twice: once to drop undocumented
    names, once more inside duckdb__alter_column_comment). Same comments, same warning for a documented
    column the table lacks; a model's own docs build took ~4 DuckDB round trips and two `describe`s,
    now one query of what it holds (psw_stored_comments) and one statement of the comments that differ
    (bench/bench_warehouse.py: dbt's per-node overhead is most of a pilot's build). -#}
{% macro duckdb__persist_docs(relation, model, for_relation, for_columns) -%}
  {%- set statements = [] -%}
  {%- set relation_docs = for_relation and config.persist_relation_docs() and model.description -%}
  {%- set column_docs = for_columns and config.persist_column_docs() and model.columns -%}
  {%- set stored = psw_stored_comments(relation) if relation_docs or column_docs else none -%}
  {%- if relation_docs and model.description != stored.relation -%}
    {%- do statements.append(duckdb__alter_relation_comment(relation, model.description)) -%}
  {%- endif -%}
  {%- if column_docs -%}
    {%- set documented = validate_doc_columns(relation, model.columns, stored.columns.keys() | list) -%}
    {%- for column_name, column in documented.items()
          if column['description'] != psw_stored_comment(stored, column_name, column['quote']) -%}
      {%- do statements.append('comment on column ' ~ relation ~ '.'
            ~ (adapter.quote(column_name) if column['quote'] else column_name)
            ~ ' is ' ~ psw_sql_string(column['description']) ~ ';') -%}
    {%- endfor -%}
  {%- endif -%}
  {%- if statements -%}
    {%- do run_query(statements | join('\n')) -%}
  {%- endif -%}
{%- endmacro %}

{#- What `relation` holds now, read from DuckDB in one query: {'relation': its comment, 'columns': {name:
    comment}}, in the columns' order (a comment never set is none). A comment that already reads as
    documented is not set again: an incremental table keeps its comments from build to build (a table or
    view replaced whole has none), and each `comment on` rewrites the table's catalog entry (template_scores'
    105 column comments: ~0.08 s of each build that adds a run to 1M pairs). -#}
{% macro psw_stored_comments(relation) -%}
  {%- set where = "database_name = " ~ psw_sql_string(relation.database) ~ " and schema_name = "
        ~ psw_sql_string(relation.schema) -%}
  {%- set rows = run_query("select 0 as part, null as column_index, null as name, comment from duckdb_tables() where "
        ~ where ~ " and table_name = " ~ psw_sql_string(relation.identifier) ~ "
        union all select 0, null, null, comment from duckdb_views() where " ~ where ~ " and view_name = "
        ~ psw_sql_string(relation.identifier) ~ "
        union all select 1, column_index, column_name, comment from duckdb_columns() where " ~ where
        ~ " and table_name = " ~ psw_sql_string(relation.identifier) ~ " order by part, column_index").rows -%}
  {%- set stored = {'relation': none, 'columns': {}} -%}
  {%- for part, _, name, comment in rows -%}
    {%- if part == 0 -%}{%- do stored.update({'relation': comment}) -%}
    {%- else -%}{%- do stored.columns.update({name: comment}) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(stored) }}
{%- endmacro %}

{#- The stored comment of a documented column (as validate_doc_columns matches names: a quoted one
    exactly, another whatever its case). -#}
{% macro psw_stored_comment(stored, column_name, quoted) -%}
  {%- if quoted or column_name in stored.columns -%}{{ return(stored.columns.get(column_name)) }}{%- endif -%}
  {%- for name, comment in stored.columns.items() if name | lower == column_name | lower -%}
    {{ return(comment) }}
  {%- endfor -%}
  {{ return(none) }}
{%- endmacro %}

{#- `text` as a SQL string literal (DuckDB's standard strings: a quote doubles, a backslash is itself).
    dbt-duckdb's duckdb_escape_comment dollar-quotes instead, one macro call (~0.2 ms) per column. -#}
{% macro psw_sql_string(text) -%}
  {%- if text is not string -%}
    {%- do exceptions.raise_compiler_error('cannot quote a non-string: ' ~ text) -%}
  {%- endif -%}
  '{{ text | replace("'", "''") }}'
{%- endmacro %}
