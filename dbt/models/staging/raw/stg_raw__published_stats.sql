-- Typed at ingest (ingest/typed.py, kind stats): `fields` holds the known fields with their types,
-- so this model selects and renames; it never parses the JSON.
with source as (
    -- one row per record, however many live loads hold it (macros/held_once.sql)
    {{ held_once(source('raw', 'published_stats'), ['measurement_id', 'record_id']) }}
),

renamed as (
    select
        -- ids
        record_id,
        measurement_id,
        level,
        -- upstream's HF library publishes the Jinja form as `template`, the runtime text as `raw_template`
        coalesce(fields.raw_template, fields.template) as template_text,
        fields.persona_pair as persona_pair_id,
        -- the load's generator (--generator-model, or a model-matrix file's name), else the row's own
        coalesce(generator_model, fields.generator_model) as generator_model,
        -- the published row as it was (its numbers are compared by name: published_comparison)
        record,
        line_no,
        loaded_at,
    from source
)

select * from renamed
