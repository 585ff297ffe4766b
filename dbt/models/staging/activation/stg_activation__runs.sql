with source as (
    {{ activation_source('activation_runs', {
        'run_id': 'varchar', 'measurement_id': 'varchar', 'model_id': 'varchar',
        'model_revision': 'varchar', 'chat_template_hash': 'varchar', 'layer_convention': 'varchar',
        'dtype': 'varchar', 'layers': 'integer[]', 'strict_only': 'boolean', 'n_pairs': 'integer',
        'params': 'json', 'created_at': 'timestamp'}) }}
),

renamed as (
    select
        -- ids
        run_id,
        measurement_id,
        model_id,
        model_revision,
        chat_template_hash,
        -- settings
        layer_convention,
        dtype,
        layers,
        params,
        -- numerics
        n_pairs,
        -- booleans
        strict_only as is_strict_only,
        -- timestamps
        created_at,
    from source
)

select * from renamed
