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
        -- settings (typed when the decision was written: warehouse/schema.py TYPED_JSON)
        settings_typed.budget as budget,
        settings_typed.top_k as top_k,
        settings_typed.z as z,
        settings_typed.rounds as rounds_setting,
        settings_typed.round_size as round_size_setting,
        settings_typed.replay_of as replay_of,
        -- timestamps
        decided_at,
    from source
)

select * from renamed
