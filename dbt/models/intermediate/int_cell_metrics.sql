-- Per cell (measurement x template x persona pair): means over successful pairs,
-- errors counted apart.
with pairs as (
    select * from {{ ref('int_pairs_scored') }}
),

style as (
    select cell_id, entry.key as style_dim, avg(entry.value) as mean_style_delta,
    from (select cell_id, unnest(map_entries(style_deltas)) as entry from pairs where not is_error)
    group by all
),

style_by_cell as (
    select cell_id, map(list(style_dim order by style_dim), list(mean_style_delta order by style_dim)) as style_delta_means,
    from style
    group by cell_id
),

cells as (
    select
        cell_id,
        any_value(measurement_id) as measurement_id,
        any_value(template_id) as template_id,
        any_value(template_text) as template_text,
        any_value(persona_pair_id) as persona_pair_id,
        arg_max(pos_persona, pos_persona is not null) as pos_persona,
        arg_max(neg_persona, neg_persona is not null) as neg_persona,
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
        list(distinct likely_spurious_axis order by likely_spurious_axis)
            filter (where not is_error and likely_spurious_axis is not null) as common_spurious_axes,
    from pairs
    group by cell_id
),

judges_by_cell as (
    select cell_id, list(distinct judge order by judge) as judge_models_seen,
    from pairs, unnest(pairs.judge_models) as judges(judge)
    group by cell_id
)

select
    cells.*,
    style_by_cell.style_delta_means,
    judges_by_cell.judge_models_seen,
from cells
left join style_by_cell using (cell_id)
left join judges_by_cell using (cell_id)
