with source as (
    select * from {{ source('raw', 'templates') }}
),

renamed as (
    select
        {{ short_id('tpl', 'template_text') }} as template_id,
        template_text,
        replace(template_text, '{persona}', '{{ "{{ persona }}" }}') as template_jinja,
        min(line_no) as line_no,
        min(loaded_at) as loaded_at,
    from source
    group by template_text
)

select * from renamed
