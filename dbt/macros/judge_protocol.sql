{#- The criteria of the order-swapped axis calls (upstream's v3 protocol): each target asked
    with the blind labels in the forward order and again swapped. -#}
{% macro order_swapped_criteria() -%}
    {{ return(['positive_axis_forward', 'positive_axis_reverse', 'negative_axis_forward', 'negative_axis_reverse']) }}
{%- endmacro %}

{#- The criteria of the baseline-anchored axis calls (upstream after 2026-07; warehouse/judge_schema.py):
    each pole against the no-persona baseline answer, the pole first (forward) and second (reverse). -#}
{% macro anchored_criteria() -%}
    {{ return(['pos_base_forward', 'pos_base_reverse', 'neg_base_forward', 'neg_base_reverse']) }}
{%- endmacro %}
