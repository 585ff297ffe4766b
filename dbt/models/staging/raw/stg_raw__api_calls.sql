with source as (
    select * from {{ source('raw', 'api_calls') }}
),

renamed as (
    select
        -- ids
        cache_key as api_call_id,
        measurement_id,
        pair_id,
        model,
        purpose,
        case when purpose like 'generation%' then 'generation' when purpose is not null then 'judge' end
            as call_kind,
        -- numerics
        coalesce(prompt_tokens, 0) as prompt_tokens,
        coalesce(completion_tokens, 0) as completion_tokens,
        cost as reported_cost,
        attempts,
        latency_s,
        -- timestamps
        created_at,
    from source
)

select * from renamed
