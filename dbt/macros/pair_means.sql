{#- The per-pair metrics averaged over a group of pairs (a cell, a template): successful
    pairs only, failures counted apart. One list, so cells and templates pool alike. -#}
{% macro pair_metric_means() -%}
        count(*) filter (where not is_error) as n_success,
        count(*) filter (where is_error) as n_errors,
        count(*) as n_planned,
        count(*) filter (where is_strict_pass) as n_strict_pass,
        avg(is_strict_pass::int) filter (where not is_error) as strict_pass_rate,
        avg(axis_delta) filter (where not is_error) as mean_axis_delta,
        avg(positive_delta) filter (where not is_error) as mean_positive_delta,
        avg(negative_delta) filter (where not is_error) as mean_negative_delta,
        avg(pairwise_positive_delta) filter (where not is_error) as mean_pairwise_positive_delta,
        avg(pairwise_negative_delta) filter (where not is_error) as mean_pairwise_negative_delta,
        avg(off_axis_problem) filter (where not is_error) as mean_off_axis_problem,
        avg(is_usable_for_training::int) filter (where not is_error) as usable_rate,
        avg(max_style_abs_delta) filter (where not is_error) as mean_max_style_abs_delta,
        avg(abs(word_delta_frac)) filter (where not is_error) as mean_abs_word_delta_frac,
        avg(word_delta_frac) filter (where not is_error) as mean_word_delta_frac,
        avg(has_persona_echo::int) filter (where not is_error) as persona_echo_rate,
        avg(has_refusal_or_ai_break::int) filter (where not is_error) as refusal_or_ai_break_rate,
        avg(axis_delta_judge_std) filter (where not is_error) as mean_axis_delta_judge_std,
        avg(axis_judge_mean_abs_disagreement) filter (where not is_error) as mean_axis_judge_abs_disagreement,
{%- endmacro %}
