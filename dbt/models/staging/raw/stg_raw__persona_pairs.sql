-- Typed at ingest (ingest/typed.py): `fields` holds the record's known fields; no JSON is parsed here.
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
        fields.source_id,
        -- the poles (upstream also names them pos_descriptor / positive_persona)
        coalesce(fields.pos, fields.pos_descriptor, fields.positive_persona) as pos_persona,
        coalesce(fields.neg, fields.neg_descriptor, fields.negative_persona) as neg_persona,
        fields.positive_behavior,
        fields.negative_behavior,
        -- the long persona texts an engineered template uses whole (upstream pos_persona/neg_persona)
        fields.pos_persona as pos_persona_text,
        fields.neg_persona as neg_persona_text,
        fields.difficulty,
        -- persona_vectors trait files
        fields.trait,
        fields.eval_prompt,
        -- where this definition was read (file:line), for messages
        coalesce(loads.source_path, source.load_id) || ':' || source.line_no as defined_at,
        source.loaded_at,
    from source
    left join loads using (load_id)
    -- a later load of the same id replaces the earlier definition (ingest reports the redefinition)
    qualify row_number() over (partition by persona_pair_id order by source.loaded_at desc, source.line_no desc) = 1
)

select * from renamed
