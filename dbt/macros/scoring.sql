{#- The guide's clean-axis score and its parts; the one place they are written. -#}

{% macro clamp01(expr) -%}
    least(1.0, greatest(0.0, {{ expr }}))
{%- endmacro %}

{% macro clean_axis_score(strict_pass_rate, axis, off_axis, style, echo_rate, refusal_rate) -%}
    100.0 * {{ strict_pass_rate }}
    * {{ clamp01(axis ~ ' / 8.0') }}
    * {{ clamp01('(7.0 - ' ~ off_axis ~ ') / 6.0') }}
    * {{ clamp01('(6.0 - ' ~ style ~ ') / 6.0') }}
    * (1.0 - {{ echo_rate }})
    * (1.0 - {{ refusal_rate }})
{%- endmacro %}

{#- The later upstream variant: axis movement discounted by off-axis problems only. -#}
{% macro axis_off_axis_score(axis, off_axis) -%}
    100.0 * {{ clamp01(axis ~ ' / 8.0') }} * (1.0 - {{ clamp01('(' ~ off_axis ~ ' - 1.0) / 6.0') }})
{%- endmacro %}

{% macro word_count(text) -%}
    len(regexp_extract_all(coalesce({{ text }}, ''), '[A-Za-z'']+'))
{%- endmacro %}

{% macro var_or_null(name) -%}
    {%- set value = var(name) -%}
    {{ 'null' if value is none else value }}
{%- endmacro %}

{% macro short_id(prefix) -%}
    '{{ prefix }}_' || left(md5(concat_ws('|', {{ varargs | join(', ') }})), 16)
{%- endmacro %}
