{#- The guide's clean-axis score and its parts; the one place they are written. -#}

{% macro clamp01(expr) -%}
    least(1.0, greatest(0.0, {{ expr }}))
{%- endmacro %}

{#- The six factors, in the guide's order; the score is 100 times their product. -#}
{% macro score_parts() -%}
    {{ return(['strict_pass', 'axis', 'off_axis', 'style', 'echo', 'refusal']) }}
{%- endmacro %}

{% macro score_factor(part, strict_pass_rate, axis, off_axis, style, echo_rate, refusal_rate) -%}
    {%- if part == 'strict_pass' -%} {{ strict_pass_rate }}
    {%- elif part == 'axis' -%} {{ clamp01(axis ~ ' / 8.0') }}
    {%- elif part == 'off_axis' -%} {{ clamp01('(7.0 - ' ~ off_axis ~ ') / 6.0') }}
    {%- elif part == 'style' -%} {{ clamp01('(6.0 - ' ~ style ~ ') / 6.0') }}
    {%- elif part == 'echo' -%} (1.0 - {{ echo_rate }})
    {%- elif part == 'refusal' -%} (1.0 - {{ refusal_rate }})
    {%- endif -%}
{%- endmacro %}

{% macro clean_axis_score(strict_pass_rate, axis, off_axis, style, echo_rate, refusal_rate) -%}
    100.0
    {%- for part in score_parts() %}
    * {{ score_factor(part, strict_pass_rate, axis, off_axis, style, echo_rate, refusal_rate) }}
    {%- endfor %}
{%- endmacro %}

{#- The later upstream variant: axis movement discounted by off-axis problems only. -#}
{% macro axis_off_axis_score(axis, off_axis) -%}
    100.0 * {{ clamp01(axis ~ ' / 8.0') }} * (1.0 - {{ clamp01('(' ~ off_axis ~ ' - 1.0) / 6.0') }})
{%- endmacro %}

{#- Words are runs of [A-Za-z'] (README.md, "The score"): the count equals
    len(regexp_extract_all(text, '[A-Za-z'']+')). The regex engine's cost is per match, so
    one pass matches either a block of 16 words, each followed by separators or the end of
    the text (counted 16), or a single word (counted 1): about 7x fewer matches, 2.4x faster
    on 1,400-character completions. A block always holds a separator, a word never does.
    tests/core/test_word_count.py checks the count against Python's re on random texts. -#}
{% macro word_count(text) -%}
    coalesce(list_sum(list_transform(
        regexp_extract_all(coalesce({{ text }}, ''), '(?:[A-Za-z'']+(?:[^A-Za-z'']+|$)){16}|[A-Za-z'']+'),
        lambda m: case when regexp_matches(m, '[^A-Za-z'']') then 16 else 1 end)), 0)
{%- endmacro %}

{% macro var_or_null(name) -%}
    {%- set value = var(name) -%}
    {{ 'null' if value is none else value }}
{%- endmacro %}

{% macro short_id(prefix) -%}
    '{{ prefix }}_' || left(md5(concat_ws('|', {{ varargs | join(', ') }})), 16)
{%- endmacro %}

{#- Keys shared by every pair source: a cell is measurement x template x persona pair. -#}
{% macro cell_id(measurement_id, template_text, persona_pair_id) -%}
    {{ short_id('cell', measurement_id, template_text, persona_pair_id) }}
{%- endmacro %}

{% macro template_id(template_text) -%}
    {{ short_id('tpl', template_text) }}
{%- endmacro %}

