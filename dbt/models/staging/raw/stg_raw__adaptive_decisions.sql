with source as (
    select * from {{ source('raw', 'adaptive_decisions') }}
),

renamed as (
    select
        -- ids
        decision_id,
        load_id,
        measurement_id,
        cell_id,
        template_text,
        persona_pair_id,
        -- round and decision
        round as round_number,
        decision,
        stop_reason,
        final_rank,
        -- numerics
        n_pairs,
        score,
        score_se,
        calls_so_far,
        -- settings
        (settings ->> 'budget')::integer as budget,
        (settings ->> 'top_k')::integer as top_k,
        (settings ->> 'z')::double as z,
        (settings ->> 'rounds')::integer as rounds_setting,
        (settings ->> 'round_size')::integer as round_size_setting,
        settings ->> 'replay_of' as replay_of,
        -- timestamps
        decided_at,
    from source
)

select * from renamed
