{#- The activation tables exist only after the first `psw extract` (extract/store.py creates
    them). Until then a staging model reads an empty relation with the same columns, so
    `psw build` works on a warehouse that has never been extracted. Read-only either way. -#}
{% macro activation_source(table_name, columns) -%}
    {%- set relation = source('activation', table_name) -%}
    {%- if execute -%}
        {%- set found = adapter.get_relation(database=relation.database, schema=relation.schema,
                                             identifier=relation.identifier) -%}
    {%- else -%}
        {%- set found = relation -%}
    {%- endif -%}
    {%- if found is not none -%}
        select * from {{ relation }}
    {%- else -%}
        select
        {%- for name, type in columns.items() %}
            cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
        limit 0
    {%- endif -%}
{%- endmacro %}
