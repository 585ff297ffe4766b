with source as (
    {{ activation_source('imported_vectors', {
        'vector_id': 'varchar', 'load_id': 'varchar', 'source_path': 'varchar', 'file_sha256': 'varchar',
        'source_format': 'varchar', 'tensor_name': 'varchar', 'model_id': 'varchar', 'model_revision': 'varchar',
        'trait': 'varchar', 'reduction': 'varchar', 'layer': 'integer', 'source_layer': 'integer',
        'layer_offset': 'integer', 'layer_convention': 'varchar', 'hidden_size': 'integer', 'norm': 'double',
        'vector': 'float[]', 'provenance': 'json', 'loaded_at': 'timestamp'}) }}
),

renamed as (
    select
        -- ids
        vector_id,
        load_id,
        model_id,
        model_revision,
        trait,
        -- where the vector came from
        source_path,
        file_sha256,
        source_format,
        tensor_name,
        layer_convention,
        provenance,
        -- where it sits in the model
        layer,
        source_layer,
        layer_offset,
        reduction,
        -- numerics
        hidden_size,
        norm as vector_norm,
        vector,
        -- timestamps
        loaded_at,
    from source
)

select * from renamed
