with source as (
    select * from {{ source('raw', 'pairs') }}
    -- a pair generated again after a generation error (`psw collect --retry-errors`) has a row
    -- per attempt: the newest successful one counts, else the newest error
    qualify row_number() over (partition by pair_id order by error is null desc, loaded_at desc) = 1
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
