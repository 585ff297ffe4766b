with source as (
    -- one row per record, however many live loads hold it (macros/held_once.sql)
    {{ held_once(source('raw', 'pairs'), ['measurement_id', 'pair_id']) }}
),

renamed as (
    select
        pair_id,
        measurement_id,
        template_text,
        persona_pair_id,
        scenario_id,
        scenario_text,
        sample_idx,
        source_run,
        row_idx,
        pos_persona,
        neg_persona,
        pos_label,
        pos_prompt,
        neg_prompt,
        pos_messages,
        neg_messages,
        pos_response,
        neg_response,
        generator_model,
        error,
        error is not null as is_generation_error,
        extra,
        loaded_at,
    from source
)

select * from renamed
