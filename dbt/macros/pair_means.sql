{#- The per-pair metrics averaged over a group of pairs (a cell, a template): successful
    pairs only, failures counted apart. One list, so cells and templates pool alike.
    Upstream's naming: for a per-pair number X the group has mean_X, for a flag Y it has Y_rate;
    the persona pairs with a strict pass and the named spurious axes as sorted sets;
    one column per style dimension and off-axis category of the judge panels (the seed).
    A mean over the successful pairs is `avg(case when not is_error then x end)`: the same rows as
    `avg(x) filter (where not is_error)` (avg skips the NULLs), but DuckDB runs ~70 FILTER clauses as
    ~70 selections of each chunk, and the CASE form as plain expressions: int_cell_metrics' group-by
    2.7-2.9 -> 1.6-1.7 s over 1M pairs. -#}
{% macro pair_metric_means() -%}
        {{- group_counts() }}
        avg(case when not is_error then positive_delta end) as mean_positive_delta,
        avg(case when not is_error then negative_delta end) as mean_negative_delta,
        avg(case when not is_error then pairwise_positive_delta end) as mean_pairwise_positive_delta,
        avg(case when not is_error then pairwise_negative_delta end) as mean_pairwise_negative_delta,
        avg(case when not is_error then off_axis_problem end) as mean_off_axis_problem,
        avg(case when not is_error then is_usable_for_training::int end) as usable_rate,
        avg(case when not is_error then max_style_abs_delta end) as mean_max_style_abs_delta,
        avg(case when not is_error then abs(word_delta_frac) end) as mean_abs_word_delta_frac,
        avg(case when not is_error then word_delta_frac end) as mean_word_delta_frac,
        avg(case when not is_error then has_persona_echo::int end) as persona_echo_rate,
        avg(case when not is_error then has_refusal_or_ai_break::int end) as refusal_or_ai_break_rate,
        avg(case when not is_error then axis_delta_judge_std end) as mean_axis_delta_judge_std,
        avg(case when not is_error then axis_judge_mean_abs_disagreement end) as mean_axis_judge_abs_disagreement,
        -- upstream's v3 columns
        avg(case when not is_error then axis_delta_judge_mean end) as mean_axis_delta_judge_mean,
        avg(case when not is_error then axis_judge_mean_abs_disagreement end) as mean_axis_judge_mean_abs_disagreement,
        avg(case when not is_error then axis_order_disagreement end) as mean_axis_order_disagreement,
        avg(case when not is_error then max_off_axis_category_likert end) as mean_max_off_axis_category_likert,
        avg(case when not is_error then response_token_jaccard end) as mean_response_token_jaccard,
        avg(case when not is_error then pos_repeated_token_frac end) as mean_pos_repeated_token_frac,
        avg(case when not is_error then neg_repeated_token_frac end) as mean_neg_repeated_token_frac,
        avg(case when not is_error then has_judge_persona_echo::int end) as judge_persona_echo_rate,
        avg(case when not is_error then has_judge_refusal_or_ai_break::int end) as judge_refusal_or_ai_break_rate,
        avg(case when not is_error then (len(pos_persona_echo_hits) + len(neg_persona_echo_hits) > 0)::int end)
            as persona_echo_hit_rate,
        avg(case when not is_error then (len(pos_refusal_phrase_hits) + len(neg_refusal_phrase_hits) > 0)::int end)
            as refusal_phrase_hit_rate,
        -- sets, as upstream publishes them: sorted, distinct, [] when none (never null)
        {{- group_sets() }}
        {{- panel_means() }}
{%- endmacro %}

{#- The columns pair_metric_means adds per judge panel dimension, for the marts' select lists. -#}
{% macro panel_mean_columns() -%}
    {%- set names = [] -%}
    {%- set panels = judge_panels() -%}
    {%- for category in panels['off_axis'] %}{% do names.append('mean_off_axis_' ~ category) %}{% endfor -%}
    {%- for dim in panels['style'] %}{% do names.append('mean_style_delta_' ~ dim ~ '_pos_minus_neg') %}{% endfor -%}
    {{ return(names) }}
{%- endmacro %}

{#- The anchored protocol's per-pair metrics averaged over a group of anchored pairs
    (int_anchored_pairs: a cell in int_anchored_cells, a template in int_anchored_templates), as
    upstream's anchored export aggregates any group (export_persona_template_stats.py, _aggregate):
    every mean over the group's successful pairs, pooled (a template's means weigh pairs, not
    cells); strict pass is the anchored one. Upstream's keys, the side deltas and min_side_delta
    instead of the guide's positive/negative and pairwise deltas, and ours beside them (the mean
    overall_score and gate, judge_did_not_commit counts, the judges' methods). -#}
{% macro anchored_pair_means() -%}
        {{- group_counts() }}
        avg(case when not is_error then axis_delta_judge_mean end) as mean_axis_delta_judge_mean,
        avg(case when not is_error then axis_delta_judge_std end) as mean_axis_delta_judge_std,
        avg(case when not is_error then axis_judge_mean_abs_disagreement end) as mean_axis_judge_abs_disagreement,
        avg(case when not is_error then delta_pos_vs_base end) as mean_delta_pos_vs_base,
        avg(case when not is_error then delta_base_vs_neg end) as mean_delta_base_vs_neg,
        avg(case when not is_error then min_side_delta end) as mean_min_side_delta,
        avg(case when not is_error then overall_score end) as mean_overall_score,
        avg(case when not is_error then off_axis_problem_likert_gate end) as mean_gate_off_axis_problem,
        avg(case when not is_error then off_axis_problem end) as mean_off_axis_problem,
        avg(case when not is_error then max_off_axis_category_likert end) as mean_max_off_axis_category_likert,
        avg(case when not is_error then is_usable_for_training::int end) as usable_rate,
        avg(case when not is_error then max_style_abs_delta end) as mean_max_style_abs_delta,
        avg(case when not is_error then abs(word_delta_frac) end) as mean_abs_word_delta_frac,
        avg(case when not is_error then response_token_jaccard end) as mean_response_token_jaccard,
        avg(case when not is_error then pos_repeated_token_frac end) as mean_pos_repeated_token_frac,
        avg(case when not is_error then neg_repeated_token_frac end) as mean_neg_repeated_token_frac,
        avg(case when not is_error then coalesce(has_persona_echo, false)::int end) as persona_echo_rate,
        avg(case when not is_error then has_judge_persona_echo::int end) as judge_persona_echo_rate,
        avg(case when not is_error then coalesce(has_refusal_or_ai_break, false)::int end) as refusal_or_ai_break_rate,
        avg(case when not is_error then has_judge_refusal_or_ai_break::int end) as judge_refusal_or_ai_break_rate,
        count(*) filter (where not is_error and judge_did_not_commit) as n_judge_did_not_commit,
        avg(case when not is_error then judge_did_not_commit::int end) as judge_did_not_commit_rate,
        {{- group_sets() }}
        list_sort(list_distinct(list(axis_judge_method) filter (where axis_judge_method is not null))) as axis_judge_methods,
        {{- panel_means() }}
{%- endmacro %}

{#- The parts both protocols' group means share, in the same places of both lists (each line ends
    with a comma): the counts, strict pass rate and mean axis delta; the two sets; the judge panels'
    means. -#}
{% macro group_counts() %}
        count(*) filter (where not is_error) as n_success,
        count(*) filter (where is_error) as n_errors,
        count(*) as n_planned,
        count(*) filter (where is_strict_pass) as n_strict_pass,
        avg(case when not is_error then is_strict_pass::int end) as strict_pass_rate,
        avg(case when not is_error then axis_delta end) as mean_axis_delta,
{%- endmacro %}

{% macro group_sets() %}
        coalesce(list(distinct persona_pair_id order by persona_pair_id) filter (where is_strict_pass),
            []::varchar[]) as strict_pass_persona_pairs,
        coalesce(list(distinct likely_spurious_axis order by likely_spurious_axis)
            filter (where not is_error and likely_spurious_axis <> ''), []::varchar[]) as common_spurious_axes,
{%- endmacro %}

{% macro panel_means() %}
        {%- set panels = judge_panels() %}
        {%- for category in panels['off_axis'] %}
        avg(case when not is_error then off_axis_likerts['{{ category }}'] end) as mean_off_axis_{{ category }},
        {%- endfor %}
        {%- for dim in panels['style'] %}
        avg(case when not is_error then style_deltas['{{ dim }}'] end) as mean_style_delta_{{ dim }}_pos_minus_neg,
        {%- endfor %}
{%- endmacro %}
