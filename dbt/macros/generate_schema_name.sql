{#- Marts go to the default schema (main) so they are queried by plain names;
    staging and intermediate keep their own schema names, unprefixed. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
