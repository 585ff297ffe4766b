-- depends_on: {{ ref('stg_activation__steering_generations') }}  (its guarantees check it: built first, for the post-hook)
with source as (
    {{ activation_source('steering_judgments', {
        'judgment_id': 'varchar', 'generation_id': 'varchar', 'judge_model': 'varchar',
        'criterion': 'varchar', 'prompt_hash': 'varchar', 'score': 'double', 'raw_text': 'varchar',
        'error': 'varchar', 'created_at': 'timestamp'}) }}
),

renamed as (
    select
        -- ids
        judgment_id,
        generation_id,
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
