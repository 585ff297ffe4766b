with source as (
    {{ activation_source('imported_projections', {
        'projection_id': 'varchar', 'load_id': 'varchar', 'source_path': 'varchar', 'file_sha256': 'varchar',
        'source_format': 'varchar', 'line_no': 'integer', 'column_name': 'varchar', 'model_id': 'varchar',
        'model_revision': 'varchar', 'trait': 'varchar', 'reduction': 'varchar', 'layer': 'integer',
        'source_layer': 'integer', 'layer_offset': 'integer', 'prompt': 'varchar', 'answer': 'varchar',
        'projection': 'double', 'extra': 'json', 'loaded_at': 'timestamp'}) }}
),

renamed as (
    select
        -- ids
        projection_id,
        load_id,
        model_id,
        model_revision,
        trait,
        -- where the number came from
        source_path,
        file_sha256,
        source_format,
        line_no,
        column_name,
        -- where it sits in the model
        layer,
        source_layer,
        layer_offset,
        reduction,
        -- what was projected
        prompt,
        answer,
        extra,
        -- numerics
        projection,
        -- timestamps
        loaded_at,
    from source
)

select * from renamed
