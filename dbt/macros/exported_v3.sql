{#- The per-pair fields of a v3 examples export beyond the v2 ones, under upstream's names
    (README.md, "Commands": the examples kind): read with one parse into a list of strings, then typed
    here. The style and off-axis columns follow the judge panels (macros/judge_panels.sql);
    a field the record lacks is null, a panel name it lacks is left out of the map. -#}

{% macro exported_v3_scalars() -%}
    {{ return({
        'axis_delta_judge_mean': 'double', 'max_off_axis_category_likert': 'double',
        'response_token_jaccard': 'double', 'pos_repeated_token_frac': 'double', 'neg_repeated_token_frac': 'double',
        'judge_persona_echo': 'boolean', 'judge_refusal_or_ai_break': 'boolean',
        'pos_refusal_phrase_hits': 'varchar[]', 'neg_refusal_phrase_hits': 'varchar[]',
        'pos_persona_echo_hits': 'varchar[]', 'neg_persona_echo_hits': 'varchar[]'}) }}
{%- endmacro %}

{% macro exported_v3_paths(panels) -%}
    {%- set paths = [] -%}
    {%- for name in exported_v3_scalars() %}{% do paths.append(name) %}{% endfor -%}
    {%- for dim in panels['style'] %}{% do paths.append('style_delta_' ~ dim ~ '_pos_minus_neg') %}{% endfor -%}
    {%- for category in panels['off_axis'] %}{% do paths.append('off_axis_' ~ category) %}{% endfor -%}
    {{ return(paths) }}
{%- endmacro %}

{#- The fields of `record`, as a list of strings; `panels` is judge_panels(). -#}
{% macro exported_v3_fields(record, panels) -%}
    json_extract_string({{ record }}, [
        {%- for path in exported_v3_paths(panels) %}'$."{{ path }}"'{{ ', ' if not loop.last }}{% endfor -%}
    ])
{%- endmacro %}

{#- The typed columns, from the list `fields` that exported_v3_fields returned (each ends with a comma). -#}
{% macro exported_v3_columns(fields, panels) -%}
    {%- set scalars = exported_v3_scalars() -%}
    {%- set n = scalars | length -%}
    {%- set style_dims = panels['style'] -%}
    {%- set categories = panels['off_axis'] -%}
    {%- for name, type in scalars.items() %}
        {%- set value = fields ~ '[' ~ loop.index ~ ']' %}
        {{ value ~ '::json::varchar[]' if type == 'varchar[]' else value ~ '::' ~ type }} as
            {{- ' has_' ~ name if type == 'boolean' else ' ' ~ name }},
    {%- endfor %}
        {{ map_from_slice(fields, style_dims, n + 1) }} as style_deltas,
        {{ map_from_slice(fields, categories, n + style_dims | length + 1) }} as off_axis_likerts,
{%- endmacro %}

{#- name -> value over the slice of `fields` that holds `names` (from position `first`), present values only. -#}
{% macro map_from_slice(fields, names, first) -%}
    {%- if names | length == 0 -%} map()::map(varchar, double)
    {%- else -%}
    map_from_entries(list_filter(
        list_zip({{ sql_text_list(names) }}, {{ fields }}[{{ first }}:{{ first + names | length - 1 }}]::double[]),
        lambda entry: entry[2] is not null))
    {%- endif -%}
{%- endmacro %}

{% macro exported_judge_axis_type() -%}
    [{"judge_model": "VARCHAR", "positive_forward_delta": "DOUBLE", "positive_reverse_delta": "DOUBLE", "negative_forward_delta": "DOUBLE", "negative_reverse_delta": "DOUBLE", "pairwise_positive_delta": "DOUBLE", "pairwise_negative_delta": "DOUBLE", "axis_delta": "DOUBLE"}]
{%- endmacro %}
