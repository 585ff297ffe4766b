with source as (
    select * from {{ source('raw', 'exported_pairs') }}
),

renamed as (
    select
        -- ids
        record_id,
        measurement_id,
        line_no,
        record ->> 'template' as template_text,
        record ->> 'persona_pair' as persona_pair_id,
        record ->> 'scenario_id' as scenario_id,
        record ->> 'prompt' as scenario_text,
        coalesce(try_cast(record ->> 'sample' as integer), 0) as sample_idx,
        -- text
        record ->> 'pos_persona' as pos_persona,
        record ->> 'neg_persona' as neg_persona,
        record ->> 'pos_generation_prompt' as pos_prompt,
        record ->> 'neg_generation_prompt' as neg_prompt,
        record ->> 'pos_response' as pos_response,
        record ->> 'neg_response' as neg_response,
        nullif(record ->> 'error', '') as error,
        record ->> 'likely_spurious_axis' as likely_spurious_axis,
        -- numerics
        try_cast(record ->> 'axis_delta' as double) as axis_delta,
        try_cast(record ->> 'positive_delta' as double) as positive_delta,
        try_cast(record ->> 'negative_delta' as double) as negative_delta,
        try_cast(record ->> 'pairwise_positive_delta' as double) as pairwise_positive_delta,
        try_cast(record ->> 'pairwise_negative_delta' as double) as pairwise_negative_delta,
        try_cast(record ->> 'off_axis_problem' as double) as off_axis_problem,
        try_cast(record ->> 'max_style_abs_delta' as double) as max_style_abs_delta,
        try_cast(record ->> 'word_delta_frac' as double) as word_delta_frac,
        try_cast(record ->> 'axis_delta_judge_std' as double) as axis_delta_judge_std,
        try_cast(record ->> 'axis_judge_mean_abs_disagreement' as double) as axis_judge_mean_abs_disagreement,
        -- booleans
        try_cast(record ->> 'usable_for_training' as boolean) as is_usable_for_training,
        try_cast(record ->> 'persona_echo' as boolean) as has_persona_echo,
        try_cast(record ->> 'refusal_or_ai_break' as boolean) as has_refusal_or_ai_break,
        try_cast(record ->> 'strict_pass' as boolean) as is_strict_pass,
        nullif(record ->> 'error', '') is not null as is_error,
        -- nested
        (record -> 'axis_judge_models')::varchar[] as judge_models,
        record -> 'axis_judgments' as axis_judgments,
        record,
        loaded_at,
    from source
)

select * from renamed
