with source as (
    -- one row per record, however many live loads hold it (macros/held_once.sql)
    {{ held_once(source('raw', 'selections'), ['selection_id', 'record_id']) }}
),

renamed as (
    select
        -- ids
        record_id,
        selection_id,
        level,
        scenario_id,
        -- level scenario: a kept scenario and the numbers it was kept by
        record ->> 'prompt' as prompt,
        record ->> 'source' as scenario_source,
        record ->> 'config' as scenario_config,
        try_cast(record ->> 'self_contained' as boolean) as is_self_contained,
        try_cast(record ->> 'selection_score' as double) as selection_score,
        try_cast(record ->> 'axis_delta' as double) as axis_delta,
        try_cast(record ->> 'off_axis_problem' as double) as off_axis_problem,
        try_cast(record ->> 'strict_pass' as boolean) as is_strict_pass,
        -- level summary: what the pool was chosen for, and its published counts
        record ->> 'template' as template_text,
        record ->> 'axis' as persona_pair_id,
        coalesce(record ->> 'generator_model', record ->> 'generator') as generator_model,
        try_cast(record ->> 'n_selected' as integer) as n_selected,
        record -> 'source_counts' as source_counts,
        -- a summary psw wrote (`export-selection --format upstream --stage-a`): the psw that wrote it
        record ->> '$."//written_by"' as written_by,
        -- the record as it was
        record,
        line_no,
        loaded_at,
    from source
)

select * from renamed
