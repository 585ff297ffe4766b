with source as (
    {{ activation_source('pair_response_judgments', {
        'judgment_id': 'varchar', 'pair_id': 'varchar', 'side': 'varchar', 'judge_model': 'varchar',
        'criterion': 'varchar', 'prompt_hash': 'varchar', 'score': 'double', 'raw_text': 'varchar',
        'error': 'varchar', 'created_at': 'timestamp'}) }}
),

renamed as (
    select
        -- ids
        judgment_id,
        pair_id,
        side,
        judge_model,
        criterion,
        prompt_hash,
        -- numerics
        score,
        -- text
        raw_text,
        error,
        -- booleans
        error is not null as is_error,
        -- timestamps
        created_at,
    from source
)

select * from renamed
