-- Cells of anchored measurements: upstream's per-cell means of the anchored metrics over successful
-- pairs (validate_persona_axes.py summarize; export_persona_template_stats.py), errors counted apart,
-- and how many pairs a judge never committed on. recommended is the anchored protocol's own rule:
-- n >= var anchored_recommended_min_n, strict_pass_rate >= var anchored_recommended_min_strict_pass_rate,
-- mean axis_delta and mean min_side_delta at least the run's thresholds, mean gate at most its
-- off-axis threshold, mean style <= 2, no echo and no refusal.
with pairs as (
    select * from {{ ref('int_anchored_pairs') }}
),

cells as (
    select
        cell_id,
        any_value(measurement_id) as measurement_id,
        any_value(template_id) as template_id,
        any_value(template_text) as template_text,
        any_value(template_kind) as template_kind,
        any_value(is_control) as is_control,
        any_value(persona_pair_id) as persona_pair_id,
        arg_max(pos_persona, pos_persona is not null) as pos_persona,
        arg_max(neg_persona, neg_persona is not null) as neg_persona,
        any_value(axis_delta_threshold) as axis_delta_threshold,
        any_value(min_side_threshold) as min_side_threshold,
        any_value(off_axis_threshold) as off_axis_threshold,
        any_value(exclude_confound_dims) as exclude_confound_dims,
        count(*) filter (where not is_error) as n_success,
        count(*) filter (where is_error) as n_errors,
        count(*) as n_planned,
        count(*) filter (where is_strict_pass) as n_strict_pass,
        avg(is_strict_pass::int) filter (where not is_error) as strict_pass_rate,
        avg(axis_delta) filter (where not is_error) as mean_axis_delta,
        avg(delta_pos_vs_base) filter (where not is_error) as mean_delta_pos_vs_base,
        avg(delta_base_vs_neg) filter (where not is_error) as mean_delta_base_vs_neg,
        avg(min_side_delta) filter (where not is_error) as mean_min_side_delta,
        avg(overall_score) filter (where not is_error) as mean_overall_score,
        avg(off_axis_problem_likert_gate) filter (where not is_error) as mean_gate_off_axis_problem,
        avg(off_axis_problem) filter (where not is_error) as mean_off_axis_problem,
        avg(max_style_abs_delta) filter (where not is_error) as mean_max_style_abs_delta,
        avg(axis_delta_judge_std) filter (where not is_error) as mean_axis_delta_judge_std,
        avg(max_off_axis_category_likert) filter (where not is_error) as mean_max_off_axis_category_likert,
        avg(abs(word_delta_frac)) filter (where not is_error) as mean_abs_word_delta_frac,
        avg(coalesce(has_persona_echo, false)::int) filter (where not is_error) as persona_echo_rate,
        avg(coalesce(has_refusal_or_ai_break, false)::int) filter (where not is_error) as refusal_or_ai_break_rate,
        count(*) filter (where not is_error and judge_did_not_commit) as n_judge_did_not_commit,
        avg(judge_did_not_commit::int) filter (where not is_error) as judge_did_not_commit_rate,
        coalesce(list(distinct persona_pair_id order by persona_pair_id) filter (where is_strict_pass),
            []::varchar[]) as strict_pass_persona_pairs,
        coalesce(list(distinct likely_spurious_axis order by likely_spurious_axis)
            filter (where not is_error and likely_spurious_axis <> ''), []::varchar[]) as common_spurious_axes,
        list_sort(list_distinct(list(axis_judge_method) filter (where axis_judge_method is not null))) as axis_judge_methods,
    from pairs
    group by cell_id
),

final as (
    select
        *,
        coalesce(n_success >= {{ var('anchored_recommended_min_n') }}
            and strict_pass_rate >= {{ var('anchored_recommended_min_strict_pass_rate') }}
            and mean_axis_delta >= axis_delta_threshold
            and mean_min_side_delta >= min_side_threshold
            and mean_gate_off_axis_problem <= off_axis_threshold
            and mean_max_style_abs_delta <= {{ var('strict_max_style_abs_delta') }}
            and persona_echo_rate = 0
            and refusal_or_ai_break_rate = 0, false) as is_recommended,
    from cells
)

select * from final
