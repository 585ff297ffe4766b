-- Upstream's Hugging Face library summaries of our cells: its `main` split (one row per
-- template, level template_main) and its `persona_pairs` split (one row per persona pair,
-- candidates included, level persona_pair), computed the way its build_hf_dataset.py computes
-- them from the cells it publishes: 4-dp means, its on/off-axis score (template_pair_scores.
-- score_axis_off_axis), its stable sorts for "best". `psw export-hf --layout upstream` writes
-- these rows; published_comparison compares upstream's own rows with them.
-- Incremental by measurement (macros/incremental.sql), its context the measurement's cells and the
-- persona pairs (macros/contexts.sql): rebuilding it whole was 0.5 s of adding a 64-pair run to a
-- 1M-pair warehouse.
{{ incremental_by_measurement(context='summary_context') }}
with cells as (
    -- upstream builds these from its stats files, whose recommended is its export rule
    select * replace (export_recommended as recommended) from {{ ref('template_pair_scores') }}
    where {{ measurements_to_build() }}
),

ranked as (
    select *,
        -- upstream's order of a template's cells (best first) and of a persona pair's cells: its
        -- stable sorts, ties falling back to the order of its stats file (recommended, strict pass
        -- rate, axis delta descending, then off-axis and style ascending), on the 4-dp numbers
        row_number() over (partition by measurement_id, template_text
            order by score_axis_off_axis desc, round(strict_pass_rate, 4) desc, round(mean_axis_delta, 4) desc,
                recommended desc, round(mean_off_axis_problem, 4), round(mean_max_style_abs_delta, 4),
                persona_pair_id)  -- a full tie: by name, so every build picks the same cell
            as rank_in_template,
        row_number() over (partition by measurement_id, persona_pair_id
            order by recommended desc, score_axis_off_axis desc, round(strict_pass_rate, 4) desc,
                round(mean_axis_delta, 4) desc, round(mean_off_axis_problem, 4), round(mean_max_style_abs_delta, 4),
                template_text)
            as rank_in_pair,
    from cells
),

template_main as (
    select
        'template_main' as level, measurement_id, template_text, null::varchar as persona_pair_id,
        -- upstream averages the cells' published (rounded) numbers, a missing one as 0; summed as
        -- decimals (exact), so a mean on a rounding boundary rounds the same in every build (a double
        -- sum depends on the order the rows arrive in: a narrowed and a full build differed in the
        -- last digit)
        round(avg(score_axis_off_axis::decimal(38, 10)), 1) as score,
        max(score_axis_off_axis) as best_score,
        any_value(persona_pair_id order by rank_in_template) as best_persona_pair,
        count(*) filter (where recommended) as recommended_cell_count,
        count(*) as measured_persona_pair_count,
        round(avg(coalesce(round(mean_axis_delta, 4), 0)::decimal(18, 4)), 4) as mean_axis_delta,
        round(avg(coalesce(round(mean_axis_delta_judge_std, 4), 0)::decimal(18, 4)), 4) as mean_axis_delta_judge_std,
        round(avg(coalesce(round(mean_axis_judge_abs_disagreement, 4), 0)::decimal(18, 4)), 4) as mean_axis_judge_abs_disagreement,
        round(avg(coalesce(round(mean_off_axis_problem, 4), 0)::decimal(18, 4)), 4) as mean_off_axis_problem,
        round(avg(coalesce(round(mean_max_style_abs_delta, 4), 0)::decimal(18, 4)), 4) as mean_max_style_abs_delta,
    from ranked
    group by measurement_id, template_text
),

pair_candidates as (
    select measurements.measurement_id, candidates.persona_pair_id
    from (select distinct measurement_id from cells) as measurements
    cross join {{ ref('stg_raw__persona_pairs') }} as candidates
    union
    select distinct measurement_id, persona_pair_id from cells
),

persona_pair as (
    select
        'persona_pair' as level, pair_candidates.measurement_id, null::varchar as template_text,
        pair_candidates.persona_pair_id,
        any_value(score_axis_off_axis order by rank_in_pair) as best_score,
        case when bool_or(recommended) then 'pilot_recommended'
             when count(cell_id) > 0 then 'pilot_measured_not_promoted'
             else 'candidate_unmeasured' end as proof_grade,
        count(cell_id) as n_measured_template_cells,
        any_value(template_jinja order by rank_in_pair) as best_template,
        any_value(n_success order by rank_in_pair) as best_n_success,
        any_value(round(strict_pass_rate, 4) order by rank_in_pair) as best_strict_pass_rate,
        any_value(round(mean_axis_delta, 4) order by rank_in_pair) as best_axis_delta,
        any_value(round(mean_off_axis_problem, 4) order by rank_in_pair) as best_off_axis_problem,
        any_value(round(mean_max_style_abs_delta, 4) order by rank_in_pair) as best_max_style_abs_delta,
        coalesce(list(template_text order by rank_in_pair) filter (where recommended), [])
            as recommended_templates,
    from pair_candidates
    left join ranked
        on ranked.measurement_id = pair_candidates.measurement_id
        and ranked.persona_pair_id = pair_candidates.persona_pair_id
    group by pair_candidates.measurement_id, pair_candidates.persona_pair_id
),

summaries as (
    select template_main.*, null::varchar as proof_grade, null::bigint as n_measured_template_cells,
        null::varchar as best_template, null::bigint as best_n_success, null::double as best_strict_pass_rate,
        null::double as best_axis_delta, null::double as best_off_axis_problem, null::double as best_max_style_abs_delta,
        null::varchar[] as recommended_templates,
    from template_main
    union all by name
    select * from persona_pair
)

select summaries.*,
    {{ measurement_version('summaries.measurement_id') }} as measurement_version,
    context.context_version,
from summaries
left join ({{ summary_context_versions(measurements_to_build('cells.measurement_id')) }}) as context using (measurement_id)
