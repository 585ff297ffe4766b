-- Each published number beside ours: one row per published row x column, so a user sees
-- whether the warehouse reproduces a paper's or a colleague's stats file, column by column.
-- Columns are matched by name (upstream's names are ours); cells by measurement, template
-- and persona pair; model-matrix rows (levels *_model) by template and persona pair, against
-- our matrix from measured cells where we have them, else from the published cells.
with published as (
    select * from {{ ref('stg_raw__published_stats') }}
),

published_measurements as (  -- our rows of other measurements pair with no published row (`ours` below):
    -- read only these, so a warehouse without published stats serialises none of its cells (0.48 -> 0.08 s at 1M pairs)
    select distinct measurement_id from published
),

cells as (
    select * from {{ ref('template_pair_scores') }}
    where measurement_id in (select measurement_id from published_measurements)
),

summaries as (
    -- upstream's HF summaries of our cells (its `main` and `persona_pairs` splits)
    select * from {{ ref('upstream_summaries') }}
    where measurement_id in (select measurement_id from published_measurements)
),

published_model_rows as (  -- the matrix rows a published row names (`paired` joins on these keys):
    -- only these are serialised (the whole matrix was, 0.78 s of an added run's build at 1M pairs)
    select distinct level, template_text, persona_pair_id from published
    where level in ('template_model', 'template_pair_model')
),

ours_model as (  -- one matrix row per template (and pair): measured before published
    select * from (
        select 'template_model' as level, null as measurement_id, template_text, null as persona_pair_id,
               to_json(template_model_scores) as our_row, basis,
        from {{ ref('template_model_scores') }}
        semi join published_model_rows as named
            on named.level = 'template_model' and named.template_text is not distinct from template_model_scores.template_text
            and named.persona_pair_id is null
        union all
        select 'template_pair_model', null, template_text, persona_pair_id, to_json(template_pair_model_scores), basis
        from {{ ref('template_pair_model_scores') }}
        semi join published_model_rows as named
            on named.level = 'template_pair_model'
            and named.template_text is not distinct from template_pair_model_scores.template_text
            and named.persona_pair_id is not distinct from template_pair_model_scores.persona_pair_id
    )
    qualify row_number() over (partition by level, template_text, persona_pair_id
                               order by basis = 'measured' desc) = 1
),

ours as (
    select 'template_pair' as level, measurement_id, template_text, persona_pair_id,
           -- a stats file states upstream's export rule (an anchored cell's recommended is the run summary's)
           json_merge_patch(to_json(cells), json_object('recommended', export_recommended)) as our_row
    from cells
    union all
    select 'template', measurement_id, template_text, null, to_json(template_scores)
    from {{ ref('template_scores') }}
    where measurement_id in (select measurement_id from published_measurements)
    union all
    select 'template_pair_cell', measurement_id, template_text, persona_pair_id,
        json_object(
            'score', score_axis_off_axis, 'on_axis', on_axis, 'off_axis', off_axis,
            'recommended', export_recommended, 'n_success', n_success, 'n_errors', n_errors, 'n_planned', n_planned,
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
    select 'template_main', measurement_id, template_text, null,
        json_object('score', score, 'best_score', best_score, 'best_persona_pair', best_persona_pair,
            'recommended_cell_count', recommended_cell_count, 'measured_persona_pair_count', measured_persona_pair_count,
            'mean_axis_delta', mean_axis_delta, 'mean_axis_delta_judge_std', mean_axis_delta_judge_std,
            'mean_axis_judge_abs_disagreement', mean_axis_judge_abs_disagreement,
            'mean_off_axis_problem', mean_off_axis_problem, 'mean_max_style_abs_delta', mean_max_style_abs_delta)
    from summaries where level = 'template_main'
    union all
    select 'persona_pair', measurement_id, null, persona_pair_id,
        json_object('best_score', best_score, 'proof_grade', proof_grade,
            'n_measured_template_cells', n_measured_template_cells, 'best_template', best_template,
            'best_n_success', best_n_success, 'best_strict_pass_rate', best_strict_pass_rate,
            'best_axis_delta', best_axis_delta, 'best_off_axis_problem', best_off_axis_problem,
            'best_max_style_abs_delta', best_max_style_abs_delta, 'recommended_templates', recommended_templates)
    from summaries where level = 'persona_pair'
    union all
    select level, measurement_id, template_text, persona_pair_id, our_row from ours_model
),

published_only as (  -- generators we hold no pairs for: their cells feed the published matrix
    select distinct generator_model from {{ ref('int_published_cells') }}
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
        published_columns.generator_model in (select generator_model from published_only) as is_published_only,
    from published_columns
    left join ours
        on ours.level = published_columns.level
        and (ours.measurement_id = published_columns.measurement_id or ours.level like '%model')
        and ours.template_text is not distinct from published_columns.template_text
        and ours.persona_pair_id is not distinct from published_columns.persona_pair_id
),

typed as (
    select
        *,
        json_type(published_json) in ('BIGINT', 'UBIGINT', 'DOUBLE') as is_number,
        json_type(published_json) = 'BOOLEAN' as is_boolean,
        case when json_type(our_json) = 'BOOLEAN' then try_cast(our_json as boolean) end as our_flag,
        -- upstream's model summaries join their models with commas: a set, like a list
        json_type(published_json) = 'ARRAY' or (column_name = 'models' and json_type(published_json) = 'VARCHAR')
            as is_set,
        -- a published number matches within the tolerance, or within its own rounding (upstream
        -- rounds the model matrix to 2-3 decimals)
        greatest({{ var('published_tolerance') }},
                 0.5 * pow(10, -length(split_part(published_json::varchar, '.', 2))) + 1e-9) as tolerance,
        try_cast(published_json::varchar as double) as published_value,
        try_cast(our_json::varchar as double) as our_value,
        -- a list is a set (upstream writes sorted(set(...))): sorted, distinct
        case when json_type(published_json) = 'ARRAY'
             then list_sort(list_distinct(published_json::varchar[]))::varchar
             when column_name = 'models' and json_type(published_json) = 'VARCHAR'
             then list_sort(list_distinct(list_transform(string_split(published_json ->> '$', ','),
                                                         lambda m: trim(m))))::varchar
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
            when not has_our_cell and is_published_only then 'not_measured'
            when not has_our_cell then 'cell_missing'
            when published_json is null or json_type(published_json) = 'NULL' then 'not_published'
            when our_json is null or json_type(our_json) = 'NULL' then 'not_derivable'
            when is_number and abs(our_value - published_value) <= tolerance then 'match'
            when is_boolean and try_cast(published_json as boolean) = our_flag then 'match'
            when is_set and json_type(our_json) = 'ARRAY' and published_text = our_text then 'match'
            when not (is_number or is_boolean or is_set) and published_text = our_text then 'match'
            else 'differs'
        end as status,
    from typed
)

select *, status in ('cell_missing', 'differs') as is_flagged,
from final
union all by name
-- an anchored run's per-pair numbers (level 'pair'): upstream's beside ours
select *, status = 'differs' as is_flagged,
from {{ ref('int_anchored_published') }}
