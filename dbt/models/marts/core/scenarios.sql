-- One row per scenario the warehouse holds (the latest definition of each id), with its
-- metadata as columns and how many measured pairs answer it.
with scenarios as (
    select * from {{ ref('stg_raw__scenarios') }}
),

measured as (
    select scenario_id, count(*) as n_pairs, count(distinct cell_id) as n_cells,
    from {{ ref('int_pairs_scored') }}
    where scenario_id is not null
    group by scenario_id
),

final as (
    select
        -- ids
        scenarios.scenario_id,
        -- the scenario and its metadata
        scenarios.scenario_text,
        scenarios.scenario_source,
        scenarios.scenario_config,
        scenarios.scenario_axes,
        scenarios.scenario_foundation,
        scenarios.scenario_pov,
        scenarios.scenario_frame,
        scenarios.is_self_contained,
        -- what measured it
        coalesce(measured.n_pairs, 0) as n_pairs,
        coalesce(measured.n_cells, 0) as n_cells,
    from scenarios
    left join measured using (scenario_id)
)

select * from final
