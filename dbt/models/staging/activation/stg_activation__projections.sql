with source as (
    {{ activation_source('activation_projections', {
        'projection_id': 'varchar', 'vector_id': 'varchar', 'response_kind': 'varchar',
        'response_id': 'varchar', 'projection': 'double', 'n_tokens': 'integer',
        'created_at': 'timestamp'}) }}
),

renamed as (
    select
        -- ids
        projection_id,
        vector_id,
        response_id,
        -- categories
        response_kind,
        -- numerics
        projection,
        n_tokens,
        -- timestamps
        created_at,
    from source
)

select * from renamed
