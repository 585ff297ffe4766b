with source as (
    select * from {{ source('raw', 'persona_pairs') }}
),

renamed as (
    select
        persona_pair_id,
        coalesce(record ->> 'pos', record ->> 'pos_descriptor', record ->> 'positive_persona') as pos_persona,
        coalesce(record ->> 'neg', record ->> 'neg_descriptor', record ->> 'negative_persona') as neg_persona,
        -- the long persona instructions an engineered template uses (upstream pos_persona/neg_persona)
        record ->> 'pos_persona' as pos_persona_text,
        record ->> 'neg_persona' as neg_persona_text,
        record ->> 'difficulty' as difficulty,
        record ->> 'trait' as trait,
        record ->> 'eval_prompt' as eval_prompt,
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
