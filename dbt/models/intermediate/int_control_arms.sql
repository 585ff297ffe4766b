{{ config(materialized='ephemeral') }}
-- The control arm each cell is compared with: the one declared rule (issue 24 part 6).
-- A control cell (template '') is a cell's control when
--   * it has the same base persona pair: an engineered pair id `x_engineered` belongs to `x`
--     (upstream names the engineered baseline's pairs so), and
--   * it is in the same measurement, or else in another measurement (another file) that asked
--     the same scenarios (the same set of scenario ids, or texts where ids are absent) with
--     the same generator model (null on both counts as the same).
-- Several candidates: the same measurement first, then the lowest control cell id.
with cells as (
    select cell_id, measurement_id, persona_pair_id, is_control, score, mean_axis_delta,
        regexp_replace(persona_pair_id, '_engineered$', '') as base_persona_pair_id,
    from {{ ref('int_cell_scores') }}
),

scenario_sets as (  -- every planned pair counts (a failed generation asked its scenario too)
    select cell_id, list_sort(list(distinct coalesce(scenario_id, md5(scenario_text)))) as scenarios,
    from {{ ref('int_pairs_measured') }}
    group by cell_id
),

generators as (
    select measurement_id, generator_model from {{ ref('stg_raw__measurements') }}
),

described as (
    select cells.*, scenario_sets.scenarios, generators.generator_model,
    from cells
    left join scenario_sets using (cell_id)
    left join generators using (measurement_id)
),

final as (
    select
        cell.cell_id,
        control.cell_id as control_cell_id,
        control.score as control_score,
        control.mean_axis_delta as control_mean_axis_delta,
        control.measurement_id = cell.measurement_id as is_same_measurement,
    from described as cell
    join described as control
        on control.is_control
        and control.base_persona_pair_id = cell.base_persona_pair_id
        and (control.measurement_id = cell.measurement_id
             or (control.scenarios = cell.scenarios
                 and control.generator_model is not distinct from cell.generator_model))
    qualify row_number() over (partition by cell.cell_id
                               order by control.measurement_id = cell.measurement_id desc, control.cell_id) = 1
)

select * from final
