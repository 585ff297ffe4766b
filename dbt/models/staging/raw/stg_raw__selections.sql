-- Typed at ingest (ingest/typed.py, kind selection): `fields` holds the known fields with their types,
-- so this model selects and renames; it never parses the JSON.
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
        fields.prompt,
        fields.source as scenario_source,
        fields.config as scenario_config,
        fields.self_contained as is_self_contained,
        fields.selection_score,
        fields.axis_delta,
        fields.off_axis_problem,
        fields.strict_pass as is_strict_pass,
        -- level summary: what the pool was chosen for, and its published counts
        fields.template as template_text,
        fields.axis as persona_pair_id,
        coalesce(fields.generator_model, fields.generator) as generator_model,
        fields.n_selected,
        fields.source_counts,
        -- a summary psw wrote (`export-selection --format upstream --stage-a`): the psw that wrote it
        fields."//written_by" as written_by,
        -- the record as it was
        record,
        line_no,
        loaded_at,
    from source
)

select * from renamed
