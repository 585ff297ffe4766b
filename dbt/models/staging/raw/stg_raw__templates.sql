-- One row per candidate template: from templates files (one per line) and from template
-- catalogs (every attribute kept; a later catalog load of the same template wins). The attributes
-- are typed when the catalog is loaded (raw.template_catalog.record_typed: warehouse/schema.py).
with listed as (
    select template_text, min(line_no) as line_no, min(loaded_at) as loaded_at,
    from {{ source('raw', 'templates') }}
    group by template_text
),

catalog as (
    select
        template_text,
        record_typed.status as catalog_status,
        record_typed.kind as catalog_kind,
        record_typed.family as template_family,
        record_typed.primary_source_id as template_source_id,
        record_typed.primary_source_type as template_source_type,
        record_typed.primary_source_url as template_source_url,
        record_typed.note as template_note,
        record as catalog_record,
        line_no,
        loaded_at,
    from {{ source('raw', 'template_catalog') }}
    qualify row_number() over (partition by template_text order by loaded_at desc, line_no desc) = 1
),

renamed as (
    select
        {{ short_id('tpl', 'template_text') }} as template_id,
        template_text,
        replace(template_text, '{persona}', '{{ "{{ persona }}" }}') as template_jinja,
        coalesce(catalog.catalog_status, 'active') as template_status,
        catalog.catalog_kind,
        catalog.template_family,
        catalog.template_source_id,
        catalog.template_source_type,
        catalog.template_source_url,
        catalog.template_note,
        catalog.catalog_record,
        coalesce(listed.line_no, catalog.line_no) as line_no,
        least(listed.loaded_at, catalog.loaded_at) as loaded_at,
    from listed
    full outer join catalog using (template_text)
)

select * from renamed
