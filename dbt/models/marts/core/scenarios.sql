-- One row per scenario the warehouse holds (the latest definition of each id), with its
-- metadata as columns and how many measured pairs answer it.
with scenarios as (
    select * from {{ ref('stg_raw__scenarios') }}
),

pairs as (  -- a pair names its scenario by id, or (a v2 export) only by its text
    select cell_id, scenario_id, scenario_text from {{ ref('int_pairs_measured') }}
),

measured as (
    select scenarios.scenario_id, count(*) as n_pairs, count(distinct pairs.cell_id) as n_cells,
    from scenarios
    join pairs on pairs.scenario_id = scenarios.scenario_id
        or (pairs.scenario_id is null and pairs.scenario_text = scenarios.scenario_text)
    group by scenarios.scenario_id
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
