with source as (
    select * from {{ source('raw', 'persona_pairs') }}
),

loads as (
    select load_id, source_path from {{ source('raw', 'loads') }}
),

renamed as (
    select
        -- ids
        persona_pair_id,
        record ->> 'source_id' as source_id,
        -- the poles (upstream also names them pos_descriptor / positive_persona)
        coalesce(record ->> 'pos', record ->> 'pos_descriptor', record ->> 'positive_persona') as pos_persona,
        coalesce(record ->> 'neg', record ->> 'neg_descriptor', record ->> 'negative_persona') as neg_persona,
        record ->> 'positive_behavior' as positive_behavior,
        record ->> 'negative_behavior' as negative_behavior,
        -- the long persona texts an engineered template uses whole (upstream pos_persona/neg_persona)
        record ->> 'pos_persona' as pos_persona_text,
        record ->> 'neg_persona' as neg_persona_text,
        record ->> 'difficulty' as difficulty,
        -- persona_vectors trait files
        record ->> 'trait' as trait,
        record ->> 'eval_prompt' as eval_prompt,
        -- where this definition was read (file:line), for messages
        coalesce(loads.source_path, source.load_id) || ':' || source.line_no as defined_at,
        source.loaded_at,
    from source
    left join loads using (load_id)
    -- a later load of the same id replaces the earlier definition (ingest reports the redefinition)
    qualify row_number() over (partition by persona_pair_id order by source.loaded_at desc, source.line_no desc) = 1
)

select * from renamed
