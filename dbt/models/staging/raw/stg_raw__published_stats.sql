with source as (
    select * from {{ source('raw', 'published_stats') }}
),

renamed as (
    select
        -- ids
        record_id,
        measurement_id,
        level,
        record ->> 'template' as template_text,
        record ->> 'persona_pair' as persona_pair_id,
        record ->> 'generator_model' as generator_model,
        -- the published row as it was
        record,
        line_no,
        loaded_at,
    from source
)

select * from renamed
