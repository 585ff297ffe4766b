-- What each adaptive `psw collect` run decided: one row per run x round x cell that was alive
-- going into the round, with the score it was judged on, the decision and the run's settings.
-- The elimination rule itself is collect/adaptive.py; this mart only keeps its record.
with decisions as (
    select * from {{ ref('stg_raw__adaptive_decisions') }}
),

rounds as (
    select
        load_id,
        round_number,
        count(*) as n_cells_alive,
        count(*) filter (where decision = 'dropped') as n_cells_dropped,
    from decisions
    group by load_id, round_number
),

final as (
    select
        -- ids
        decisions.decision_id,
        decisions.load_id,
        decisions.measurement_id,
        decisions.cell_id,
        decisions.template_text,
        decisions.persona_pair_id,
        -- the round
        decisions.round_number,
        rounds.n_cells_alive,
        rounds.n_cells_dropped,
        decisions.calls_so_far,
        -- the cell when it was judged
        decisions.n_pairs,
        decisions.score,
        decisions.score_se,
        decisions.decision,
        decisions.decision = 'dropped' as is_dropped,
        decisions.stop_reason,
        decisions.final_rank,
        -- the run's settings
        decisions.budget,
        decisions.top_k,
        decisions.z,
        decisions.rounds_setting,
        decisions.round_size_setting,
        decisions.replay_of,
        decisions.decided_at,
    from decisions
    join rounds using (load_id, round_number)
)

select * from final
