-- depends_on: {{ ref('stg_activation__vectors') }}  (its guarantees check it: built first, for the post-hook)
with source as (
    {{ activation_source('activation_vector_replicates', {
        'vector_id': 'varchar', 'replicate': 'integer', 'vector': 'float[]', 'created_at': 'timestamp'}) }}
),

renamed as (
    select
        -- ids
        vector_id,
        replicate,
        -- numerics
        vector,
        -- timestamps
        created_at,
    from source
)

select * from renamed
