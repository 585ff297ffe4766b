with source as (
    select * from {{ source('raw', 'scenarios') }}
),

renamed as (
    select
        scenario_id,
        coalesce(record ->> 'prompt', record ->> 'question', record ->> 'text') as scenario_text,
        record ->> 'source' as scenario_source,
        record ->> 'config' as scenario_config,
        -- upstream's scenario metadata (scripts/scenario_sources): the axes a scenario is meant to
        -- probe, its moral foundation, point of view and framing
        try_cast(record -> 'axes' as varchar[]) as scenario_axes,
        record ->> 'foundation' as scenario_foundation,
        record ->> 'pov' as scenario_pov,
        record ->> 'frame' as scenario_frame,
        -- carries its own question and length: collect adds no length instruction
        coalesce((record ->> 'self_contained')::boolean, false) as is_self_contained,
        loaded_at,
    from source
    qualify row_number() over (partition by scenario_id order by loaded_at desc, line_no desc) = 1
)

select * from renamed
