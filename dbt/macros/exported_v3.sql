{#- The per-pair fields of a v3 examples export beyond the v2 ones, under upstream's names
    (README.md, "Commands": the examples kind), as ingest typed them (raw.exported_pairs.fields).
    The style and off-axis columns follow the judge panels (macros/judge_panels.sql); a field the record lacks is null, a panel name it lacks is left out of the map. -#}

{% macro exported_v3_scalars() -%}
    {{ return({
        'axis_delta_judge_mean': 'double', 'max_off_axis_category_likert': 'double',
        'response_token_jaccard': 'double', 'pos_repeated_token_frac': 'double', 'neg_repeated_token_frac': 'double',
        'judge_persona_echo': 'boolean', 'judge_refusal_or_ai_break': 'boolean',
        'pos_refusal_phrase_hits': 'varchar[]', 'neg_refusal_phrase_hits': 'varchar[]',
        'pos_persona_echo_hits': 'varchar[]', 'neg_persona_echo_hits': 'varchar[]'}) }}
{%- endmacro %}

{#- The typed columns, from the struct `fields` ingest typed (ingest/typed.py; each ends with a comma). -#}
{% macro exported_v3_columns(fields, panels) -%}
    {%- for name, type in exported_v3_scalars().items() %}
        {{ fields }}."{{ name }}" as {{- ' has_' ~ name if type == 'boolean' else ' ' ~ name }},
    {%- endfor %}
        {{ map_of_fields(fields, panels['style'], 'style_delta_', '_pos_minus_neg') }} as style_deltas,
        {{ map_of_fields(fields, panels['off_axis'], 'off_axis_', '') }} as off_axis_likerts,
{%- endmacro %}

{#- name -> value of the members `prefix ~ name ~ suffix` of `fields`, present values only. -#}
{% macro map_of_fields(fields, names, prefix, suffix) -%}
    {%- if names | length == 0 -%} map()::map(varchar, double)
    {%- else -%}
    map_from_entries(list_filter(
        list_zip({{ sql_text_list(names) }}, [
            {%- for name in names %}{{ fields }}."{{ prefix ~ name ~ suffix }}"{{ ', ' if not loop.last }}{% endfor -%}
        ]::double[]),
        lambda entry: entry[2] is not null))
    {%- endif -%}
{%- endmacro %}
