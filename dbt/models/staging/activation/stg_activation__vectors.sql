-- depends_on: {{ ref('stg_activation__runs') }}  (its guarantees check it: built first, for the post-hook)
with source as (
    {{ activation_source('activation_vectors', {
        'vector_id': 'varchar', 'run_id': 'varchar', 'cell_id': 'varchar', 'layer': 'integer',
        'reduction': 'varchar', 'n_pairs': 'integer', 'norm': 'double', 'vector': 'float[]',
        'safetensors_path': 'varchar', 'provenance': 'json', 'created_at': 'timestamp'}) }}
),

renamed as (
    select
        -- ids
        vector_id,
        run_id,
        cell_id,
        -- where the vector lives
        layer,
        reduction,
        safetensors_path,
        provenance,
        -- numerics
        n_pairs,
        norm as vector_norm,
        vector,
        -- timestamps
        created_at,
    from source
)

select * from renamed
