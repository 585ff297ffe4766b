with source as (
    select * from {{ source('raw', 'api_calls') }}
),

renamed as (
    select
        -- ids
        cache_key,
        measurement_id,
        model,
        base_url,
        -- numerics
        coalesce(prompt_tokens, 0) as prompt_tokens,
        coalesce(completion_tokens, 0) as completion_tokens,
        cost,
        attempts,
        latency_s,
        -- text
        finish_reason,
        -- timestamps
        created_at,
    from source
)

select * from renamed
