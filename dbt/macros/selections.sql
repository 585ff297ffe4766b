{# A selection summary's `source_counts` as a list of {source, n}: upstream writes an object
   {source: n} or a list of {source, n} (ingest/selections.py accepts both). One reading of it for
   selection_comparison and selection_reproduction. #}
{% macro selection_source_counts(column) -%}
case when json_type({{ column }}) = 'ARRAY'
     then from_json({{ column }}, '[{"source": "VARCHAR", "n": "BIGINT"}]')
     else list_transform(json_keys({{ column }}),
                         lambda k: {'source': k, 'n': ({{ column }} ->> k)::bigint}) end
{%- endmacro %}
