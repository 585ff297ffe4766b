-- One row per template x measurement: its cells' scores and its pairs pooled.
with cells as (
    select * from {{ ref('template_pair_scores') }}
),

pairs as (
    select * from {{ ref('int_pairs_scored') }}
),

cell_summary as (
    select
        measurement_id,
        template_id,
        any_value(template_text) as template_text,
        any_value(template_jinja) as template_jinja,
        count(*) as n_persona_pairs,
        avg(score) as mean_score,
        max(score) as best_score,
        arg_max(persona_pair_id, (coalesce(score, -1), cell_id)) as best_persona_pair_id,
        arg_max(cell_id, (coalesce(score, -1), cell_id)) as best_cell_id,
        count(*) filter (where recommended) as n_recommended,
        list(distinct persona_pair_id order by persona_pair_id) filter (where n_strict_pass > 0)
            as strict_pass_persona_pairs,
    from cells
    group by measurement_id, template_id
),

pooled as (
    select
        measurement_id,
        template_id,
        count(*) filter (where not is_error) as n,
        count(*) filter (where is_error) as n_errors,
        count(*) filter (where is_strict_pass) as n_strict_pass,
        avg(is_strict_pass::int) filter (where not is_error) as strict_pass_rate,
        avg(axis_delta) filter (where not is_error) as mean_axis_delta,
        avg(positive_delta) filter (where not is_error) as mean_positive_delta,
        avg(negative_delta) filter (where not is_error) as mean_negative_delta,
        avg(off_axis_problem) filter (where not is_error) as mean_off_axis_problem,
        avg(is_usable_for_training::int) filter (where not is_error) as usable_rate,
        avg(max_style_abs_delta) filter (where not is_error) as mean_max_style_abs_delta,
        avg(abs(word_delta_frac)) filter (where not is_error) as mean_abs_word_delta_frac,
        avg(has_persona_echo::int) filter (where not is_error) as persona_echo_rate,
        avg(has_refusal_or_ai_break::int) filter (where not is_error) as refusal_or_ai_break_rate,
    from pairs
    group by measurement_id, template_id
),

final as (
    select
        {{ short_id('tplm', 'cell_summary.measurement_id', 'cell_summary.template_id') }} as id,
        cell_summary.*,
        pooled.* exclude (measurement_id, template_id),
    from cell_summary
    join pooled using (measurement_id, template_id)
)

select * from final
