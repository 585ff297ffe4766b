-- Staged screens (upstream's data/axes/<id>/config.yaml, issue 27): each measured cell with the
-- numbers of upstream's stage summary row (validate_persona_axes.py summarize) and its place in
-- its measurement's ranking, the rule that picks a stage's winner (parse_stage_a.py): the highest
-- strict_pass_rate, then the highest mean_axis_delta; a full tie goes to the template text that
-- sorts first, so every build picks the same winner. The control template ('') is listed but not
-- ranked: stage B measures a persona template. One owner of the rule: `psw collect --stage b`
-- and `psw export-selection --stage-a` both read is_stage_winner.
-- Incremental by measurement (macros/incremental.sql): a cell's numbers and its rank come from its
-- own measurement's cells (as template_scores' do), so adding a run ranks that run's cells only.
{{ incremental_by_measurement() }}
with cells as (
    select cells.*, versions.measurement_version
    from {{ ref('template_pair_scores') }} as cells
    join {{ ref('int_measurement_versions') }} as versions using (measurement_id)
    where {{ measurements_to_build('cells.measurement_id') }}
),

ranked as (
    select
        -- ids
        cell_id,
        measurement_id,
        measurement_version,
        persona_pair_id,
        template_id,
        template_text,
        protocol,
        -- upstream's summary row (its names; mean_gate_off_axis_problem is what upstream's anchored
        -- summary calls mean_off_axis_problem: the mean gate after the excluded categories)
        n,
        strict_pass_rate,
        mean_axis_delta,
        mean_delta_pos_vs_base,
        mean_delta_base_vs_neg,
        mean_min_side_delta,
        mean_axis_delta_judge_std,
        mean_overall_score,
        mean_gate_off_axis_problem,
        mean_off_axis_problem,
        mean_max_off_axis_category_likert,
        mean_max_style_abs_delta,
        mean_abs_word_delta_frac,
        persona_echo_rate,
        refusal_or_ai_break_rate,
        recommended,
        -- the stage's ranking
        case when template_text <> '' then
            row_number() over (partition by measurement_id, template_text <> ''
                               order by strict_pass_rate desc nulls last, mean_axis_delta desc nulls last,
                                        template_text, persona_pair_id)
        end as stage_rank,
    from cells
),

final as (
    select *,
        -- the measurement's ranked cells: its largest rank (a filtered count over a second window
        -- partition made DuckDB take 12 s for 250k cells instead of 0.4 s)
        coalesce(max(stage_rank) over (partition by measurement_id), 0) as n_ranked_cells,
        coalesce(stage_rank = 1, false) as is_stage_winner,
    from ranked
)

select * from final
