{#- persist_docs for DuckDB in one statement per model (dbt's own way runs the table comment and the
    column comments as two statements and reads the table's columns twice: once to drop undocumented
    names, once more inside duckdb__alter_column_comment). Same comments, same warning for a documented
    column the table lacks; a model's own docs build took ~4 DuckDB round trips and two `describe`s,
    now one of each (bench/bench_warehouse.py: dbt's per-node overhead is most of a pilot's build). -#}
{% macro duckdb__persist_docs(relation, model, for_relation, for_columns) -%}
  {%- set statements = [] -%}
  {%- if for_relation and config.persist_relation_docs() and model.description -%}
    {%- do statements.append(duckdb__alter_relation_comment(relation, model.description)) -%}
  {%- endif -%}
  {%- if for_columns and config.persist_column_docs() and model.columns -%}
    {%- set existing = psw_stored_columns(relation) -%}
    {%- set documented = validate_doc_columns(relation, model.columns, existing) -%}
    {%- for column_name, column in documented.items() -%}
      {%- do statements.append('comment on column ' ~ relation ~ '.'
            ~ (adapter.quote(column_name) if column['quote'] else column_name)
            ~ ' is ' ~ psw_sql_string(column['description']) ~ ';') -%}
    {%- endfor -%}
  {%- endif -%}
  {%- if statements -%}
    {%- do run_query(statements | join('\n')) -%}
  {%- endif -%}
{%- endmacro %}

{#- The column names `relation` has now, read from DuckDB. -#}
{% macro psw_stored_columns(relation) -%}
  {{ return(adapter.get_columns_in_relation(relation) | map(attribute='name') | list) }}
{%- endmacro %}

{#- `text` as a SQL string literal (DuckDB's standard strings: a quote doubles, a backslash is itself).
    dbt-duckdb's duckdb_escape_comment dollar-quotes instead, one macro call (~0.2 ms) per column. -#}
{% macro psw_sql_string(text) -%}
  {%- if text is not string -%}
    {%- do exceptions.raise_compiler_error('cannot quote a non-string: ' ~ text) -%}
  {%- endif -%}
  '{{ text | replace("'", "''") }}'
{%- endmacro %}
