-- Typed at ingest (ingest/typed.py): `fields` holds the record's known fields; no JSON is parsed here.
with source as (
    select * from {{ source('raw', 'scenarios') }}
),

renamed as (
    select
        scenario_id,
        coalesce(fields.prompt, fields.question, fields."text") as scenario_text,
        fields.source as scenario_source,
        fields.config as scenario_config,
        -- upstream's scenario metadata (scripts/scenario_sources): the axes a scenario is meant to
        -- probe, its moral foundation, point of view and framing
        fields.axes as scenario_axes,
        fields.foundation as scenario_foundation,
        fields.pov as scenario_pov,
        fields.frame as scenario_frame,
        -- carries its own question and length: collect adds no length instruction
        coalesce(fields.self_contained, false) as is_self_contained,
        loaded_at,
    from source
    qualify row_number() over (partition by scenario_id order by loaded_at desc, line_no desc) = 1
)

select * from renamed
