-- One row per measurement: how it was measured (its judging protocol and, anchored, the gate's
-- excluded dimensions and the thresholds it recorded: int_measurement_protocols), how many pairs,
-- errors, judgments and API calls it holds, and what they cost. `psw runs` prints this table.
with measurements as (
    select * from {{ ref('stg_raw__measurements') }}
),

protocols as (
    select * from {{ ref('int_measurement_protocols') }}
),

pairs as (
    select
        measurement_id,
        count(distinct cell_id) as n_cells,
        count(*) as n_pairs,
        count(*) filter (where not is_error) as n_successful_pairs,
        count(*) filter (where is_error) as n_error_pairs,
    from {{ ref('int_pairs_measured') }}
    group by measurement_id
),

judgments as (
    select
        measurement_id,
        count(*) as n_judgments,
        count(*) filter (where is_error) as n_judge_errors,
    from {{ ref('stg_raw__judgments') }}
    group by measurement_id
),

labels as (  -- how the blind A/B order fell, where the pairs record it
    select measurement_id, count(pos_label) as n_labelled, count(*) filter (where pos_label = 'A') as n_pos_a,
    from {{ ref('stg_raw__pairs') }}
    group by measurement_id
),

calls as (  -- the costs mart owns usage and pricing
    select measurement_id, n_calls as n_api_calls, prompt_tokens, completion_tokens, cost,
    from {{ ref('costs') }}
    where grain = 'measurement'
),

final as (
    select
        measurements.measurement_id,
        measurements.source_format,
        measurements.generator_model,
        measurements.judge_models,
        measurements.temperature,
        measurements.seed,
        protocols.protocol,
        protocols.exclude_confound_dims,
        protocols.axis_delta_threshold,
        protocols.min_side_threshold,
        protocols.off_axis_threshold,
        protocols.max_word_delta_frac,
        coalesce(pairs.n_cells, 0) as n_cells,
        coalesce(pairs.n_pairs, 0) as n_pairs,
        coalesce(pairs.n_successful_pairs, 0) as n_successful_pairs,
        coalesce(pairs.n_error_pairs, 0) as n_error_pairs,
        coalesce(judgments.n_judgments, 0) as n_judgments,
        coalesce(judgments.n_judge_errors, 0) as n_judge_errors,
        coalesce(calls.n_api_calls, 0) as n_api_calls,
        coalesce(calls.prompt_tokens, 0) as prompt_tokens,
        coalesce(calls.completion_tokens, 0) as completion_tokens,
        calls.cost,
        case when coalesce(labels.n_labelled, 0) > 0
             then 'blind A/B, order randomised per pair: the positive completion was A in '
                  || labels.n_pos_a || ' of ' || labels.n_labelled || ' pairs'
             else 'blind A/B, order randomised per pair by the exporting validator (labels not recorded in '
                  || coalesce(measurements.source_format, 'this') || ' format)'
        end as ab_blinding,
        measurements.first_loaded_at,
        measurements.last_loaded_at,
    from measurements
    left join protocols using (measurement_id)
    left join labels using (measurement_id)
    left join pairs using (measurement_id)
    left join judgments using (measurement_id)
    left join calls using (measurement_id)
)

select * from final
