with source as (
    select * from {{ source('raw', 'persona_pairs') }}
),

renamed as (
    select
        persona_pair_id,
        record ->> 'pos' as pos_persona,
        record ->> 'neg' as neg_persona,
        record ->> 'positive_behavior' as positive_behavior,
        record ->> 'negative_behavior' as negative_behavior,
        record ->> 'source_id' as source_id,
        -- the long persona texts an engineered template uses whole (optional)
        record ->> 'pos_persona' as pos_persona_text,
        record ->> 'neg_persona' as neg_persona_text,
        loaded_at,
    from source
    -- a later load of the same id replaces the earlier definition
    qualify row_number() over (partition by persona_pair_id order by loaded_at desc, line_no desc) = 1
)

select * from renamed
