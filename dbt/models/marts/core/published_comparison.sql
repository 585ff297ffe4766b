-- Each published number beside ours: one row per published row x column, so a user sees
-- whether the warehouse reproduces a paper's or a colleague's stats file, column by column.
-- Columns are matched by name (upstream's names are ours); cells by measurement, template
-- and persona pair.
with published as (
    select * from {{ ref('stg_raw__published_stats') }}
),

cells as (
    select * from {{ ref('template_pair_scores') }}
),

-- upstream's Hugging Face library (hf/upstream_hf.py) publishes three more levels, each
-- computed the way its build_hf_dataset.py computes it from the cells it publishes (4-dp
-- means, its on/off-axis `score`); only the columns named here are ours, the rest of its
-- columns (provenance, run metadata) are not_derivable
cell_upstream as (
    select *,
        -- upstream's order of a template's cells (best first) and of a persona pair's cells: its
        -- stable sorts, ties falling back to the order of its stats file (recommended, strict pass
        -- rate, axis delta descending, then off-axis and style ascending), on the 4-dp numbers
        row_number() over (partition by measurement_id, template_text
            order by score_axis_off_axis desc, round(strict_pass_rate, 4) desc, round(mean_axis_delta, 4) desc,
                recommended desc, round(mean_off_axis_problem, 4), round(mean_max_style_abs_delta, 4))
            as rank_in_template,
        row_number() over (partition by measurement_id, persona_pair_id
            order by recommended desc, score_axis_off_axis desc, round(strict_pass_rate, 4) desc,
                round(mean_axis_delta, 4) desc, round(mean_off_axis_problem, 4), round(mean_max_style_abs_delta, 4))
            as rank_in_pair,
    from cells
),

template_main as (
    select measurement_id, template_text,
        json_object(
            'score', round(avg(score_axis_off_axis), 1),
            'best_score', max(score_axis_off_axis),
            'best_persona_pair', any_value(persona_pair_id order by rank_in_template),
            'recommended_cell_count', count(*) filter (where recommended),
            'measured_persona_pair_count', count(*),
            'mean_axis_delta', round(avg(coalesce(round(mean_axis_delta, 4), 0)), 4),
            'mean_axis_delta_judge_std', round(avg(coalesce(round(mean_axis_delta_judge_std, 4), 0)), 4),
            'mean_axis_judge_abs_disagreement',
                round(avg(coalesce(round(mean_axis_judge_abs_disagreement, 4), 0)), 4),
            'mean_off_axis_problem', round(avg(coalesce(round(mean_off_axis_problem, 4), 0)), 4),
            'mean_max_style_abs_delta', round(avg(coalesce(round(mean_max_style_abs_delta, 4), 0)), 4)
        ) as our_row,
    from cell_upstream
    group by measurement_id, template_text
),

pair_candidates as (
    select distinct cells.measurement_id, candidates.persona_pair_id
    from (select distinct measurement_id from cells) as cells
    cross join {{ ref('stg_raw__persona_pairs') }} as candidates
    union
    select distinct measurement_id, persona_pair_id from cells
),

pair_review as (
    select pair_candidates.measurement_id, pair_candidates.persona_pair_id,
        json_object(
            'best_score', any_value(score_axis_off_axis order by rank_in_pair),
            'proof_grade', case when bool_or(recommended) then 'pilot_recommended'
                                when count(cell_id) > 0 then 'pilot_measured_not_promoted'
                                else 'candidate_unmeasured' end,
            'n_measured_template_cells', count(cell_id),
            'best_template', any_value(template_jinja order by rank_in_pair),
            'best_n_success', any_value(n_success order by rank_in_pair),
            'best_strict_pass_rate', any_value(strict_pass_rate order by rank_in_pair),
            'best_axis_delta', any_value(round(mean_axis_delta, 4) order by rank_in_pair),
            'best_off_axis_problem', any_value(round(mean_off_axis_problem, 4) order by rank_in_pair),
            'best_max_style_abs_delta', any_value(round(mean_max_style_abs_delta, 4) order by rank_in_pair),
            'recommended_templates', coalesce(list(template_text order by rank_in_pair)
                                                  filter (where recommended), [])
        ) as our_row,
    from pair_candidates
    left join cell_upstream
        on cell_upstream.measurement_id = pair_candidates.measurement_id
        and cell_upstream.persona_pair_id = pair_candidates.persona_pair_id
    group by pair_candidates.measurement_id, pair_candidates.persona_pair_id
),

ours as (
    select 'template_pair' as level, measurement_id, template_text, persona_pair_id,
           to_json(cells) as our_row
    from cells
    union all
    select 'template', measurement_id, template_text, null, to_json(template_scores)
    from {{ ref('template_scores') }}
    union all
    select 'template_pair_cell', measurement_id, template_text, persona_pair_id,
        json_object(
            'score', score_axis_off_axis, 'on_axis', on_axis, 'off_axis', off_axis,
            'recommended', recommended, 'n_success', n_success, 'n_errors', n_errors, 'n_planned', n_planned,
            'strict_pass_rate', strict_pass_rate, 'mean_axis_delta', mean_axis_delta,
            'mean_axis_delta_judge_mean', mean_axis_delta_judge_mean,
            'mean_axis_delta_judge_std', mean_axis_delta_judge_std,
            'mean_axis_judge_abs_disagreement', mean_axis_judge_abs_disagreement,
            'mean_off_axis_problem', mean_off_axis_problem, 'mean_max_style_abs_delta', mean_max_style_abs_delta,
            'mean_abs_word_delta_frac', mean_abs_word_delta_frac, 'persona_echo_rate', persona_echo_rate,
            'refusal_or_ai_break_rate', refusal_or_ai_break_rate, 'usable_rate', usable_rate,
            'positive_persona', pos_persona, 'negative_persona', neg_persona, 'contrast', axis,
            'positive_behavior', positive_behavior, 'negative_behavior', negative_behavior)
    from cells
    union all
    select 'template_main', measurement_id, template_text, null, our_row from template_main
    union all
    select 'persona_pair', measurement_id, null, persona_pair_id, our_row from pair_review
),

published_columns as (
    select published.*, column_name,
    from published, unnest(json_keys(published.record)) as keys(column_name)
    where column_name not in ('template', 'persona_pair', 'axis', 'generator_model', 'artifact')
),

paired as (
    select
        published_columns.record_id,
        published_columns.measurement_id,
        published_columns.level,
        published_columns.template_text,
        published_columns.persona_pair_id,
        published_columns.column_name,
        published_columns.record -> ('$."' || published_columns.column_name || '"') as published_json,
        ours.our_row -> ('$."' || published_columns.column_name || '"') as our_json,
        ours.our_row is not null as has_our_cell,
    from published_columns
    left join ours
        on ours.level = published_columns.level
        and ours.measurement_id = published_columns.measurement_id
        and ours.template_text is not distinct from published_columns.template_text
        and ours.persona_pair_id is not distinct from published_columns.persona_pair_id
),

typed as (
    select
        *,
        json_type(published_json) in ('BIGINT', 'UBIGINT', 'DOUBLE') as is_number,
        json_type(published_json) = 'BOOLEAN' as is_boolean,
        case when json_type(our_json) = 'BOOLEAN' then try_cast(our_json as boolean) end as our_flag,
        json_type(published_json) = 'ARRAY' as is_set,
        try_cast(published_json::varchar as double) as published_value,
        try_cast(our_json::varchar as double) as our_value,
        -- a list is a set (upstream writes sorted(set(...))): sorted, distinct
        case when json_type(published_json) = 'ARRAY'
             then list_sort(list_distinct(published_json::varchar[]))::varchar
             else published_json::varchar end as published_text,
        case when json_type(our_json) = 'ARRAY' then list_sort(list_distinct(our_json::varchar[]))::varchar
             else our_json::varchar end as our_text,
    from paired
),

final as (
    select
        record_id,
        measurement_id,
        level,
        template_text,
        persona_pair_id,
        column_name,
        published_text as published,
        our_text as ours,
        published_value,
        our_value,
        case when is_number then our_value - published_value end as difference,
        case
            when not has_our_cell then 'cell_missing'
            when published_json is null or json_type(published_json) = 'NULL' then 'not_published'
            when our_json is null or json_type(our_json) = 'NULL' then 'not_derivable'
            when is_number and abs(our_value - published_value) <= {{ var('published_tolerance') }} then 'match'
            when is_boolean and try_cast(published_json as boolean) = our_flag then 'match'
            when is_set and json_type(our_json) = 'ARRAY' and published_text = our_text then 'match'
            when not (is_number or is_boolean or is_set) and published_text = our_text then 'match'
            else 'differs'
        end as status,
    from typed
)

select *, status in ('cell_missing', 'differs') as is_flagged,
from final
