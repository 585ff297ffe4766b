{#- "Worth a larger sweep": upstream's recommended rule (its export script), written once for a
    cell (int_cell_scores) and a template (template_scores). `group` is the alias whose
    pair_metric_means columns it reads. Upstream requires echo and refusal rates == 0; ours
    are the vars recommended_max_persona_echo_rate / _refusal_or_ai_break_rate (0 = upstream).
    Upstream compares its 4-dp rounded means; ours are unrounded, which can differ only for a
    mean within 0.00005 of a threshold (thousands of pairs in one group). -#}
{% macro recommended(group) -%}
    coalesce(
        {{ group }}.n_success >= {{ var('recommended_min_n') }}
        and {{ group }}.strict_pass_rate >= {{ var('recommended_min_strict_pass_rate') }}
        and {{ group }}.mean_axis_delta >= {{ var('recommended_min_axis_delta') }}
        and {{ group }}.mean_off_axis_problem <= {{ var('recommended_max_off_axis_problem') }}
        and {{ group }}.mean_max_style_abs_delta <= {{ var('recommended_max_style_abs_delta') }}
        and {{ group }}.persona_echo_rate <= {{ var('recommended_max_persona_echo_rate') }}
        and {{ group }}.refusal_or_ai_break_rate <= {{ var('recommended_max_refusal_or_ai_break_rate') }},
        false
    )
{%- endmacro %}

{#- The least score a recommended cell can have: the guide's score at every threshold of the rule
    (the score rises with each factor, so a cell past every threshold scores at least this; 10.4 at
    the defaults). recommended_confident asks the score's lower bound to clear it. -#}
{% macro recommended_score_bar() -%}
    {{ clean_axis_score(var('recommended_min_strict_pass_rate'), var('recommended_min_axis_delta'),
        var('recommended_max_off_axis_problem'), var('recommended_max_style_abs_delta'),
        var('recommended_max_persona_echo_rate'), var('recommended_max_refusal_or_ai_break_rate')) }}
{%- endmacro %}
