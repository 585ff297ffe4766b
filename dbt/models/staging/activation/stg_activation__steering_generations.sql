with source as (
    {{ activation_source('steering_generations', {
        'generation_id': 'varchar', 'vector_id': 'varchar', 'cell_id': 'varchar', 'layer': 'integer',
        'positions': 'varchar', 'coeff': 'double', 'scenario_id': 'varchar', 'scenario_text': 'varchar',
        'response_text': 'varchar', 'n_tokens': 'integer', 'projection': 'double',
        'max_new_tokens': 'integer', 'temperature': 'double', 'seed': 'integer', 'model_id': 'varchar',
        'model_revision': 'varchar', 'created_at': 'timestamp', 'vector_norm': 'double',
        'residual_norm': 'double', 'steering_backend': 'varchar'}) }}
),

renamed as (
    select
        -- ids
        generation_id,
        vector_id,
        cell_id,
        scenario_id,
        model_id,
        model_revision,
        -- steering settings
        layer,
        positions,
        coeff,
        max_new_tokens,
        temperature,
        seed,
        steering_backend,  -- the server a remote sweep ran on; null: psw's own model
        -- text
        scenario_text,
        response_text,
        -- numerics
        n_tokens,
        {{ word_count('response_text') }} as n_words,  -- the same word rule as the pairs
        projection,
        vector_norm,       -- |v|
        residual_norm,     -- mean |h| over the scenario's prompt tokens at the layer, unsteered
        -- timestamps
        created_at,
    from source
)

select * from renamed
