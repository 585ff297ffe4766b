{#- The criteria of the order-swapped axis calls (upstream's v3 protocol): each target asked
    with the blind labels in the forward order and again swapped. -#}
{% macro order_swapped_criteria() -%}
    {{ return(['positive_axis_forward', 'positive_axis_reverse', 'negative_axis_forward', 'negative_axis_reverse']) }}
{%- endmacro %}
