with source as (
    {{ activation_source('steering_rubrics', {
        'rubric_hash': 'varchar', 'rubric_text': 'varchar', 'source_path': 'varchar',
        'created_at': 'timestamp'}) }}
),

renamed as (
    select
        -- ids
        rubric_hash,
        -- text
        rubric_text,
        source_path,
        -- timestamps
        created_at,
    from source
)

select * from renamed
