{{ config(materialized='table') }}
-- The control arm each cell is compared with: the one declared rule (issue 24 part 6).
-- A control cell (template '') is a cell's control when
--   * it has the same base persona pair: an engineered pair id `x_engineered` belongs to `x`
--     (upstream names the engineered baseline's pairs so), and
--   * it is in the same measurement, or else in another measurement (another file) that asked
--     the same scenarios (the same set of scenario ids, or texts where ids are absent) with
--     the same generator model (null on both counts as the same).
-- Several candidates: the same measurement first, then the lowest control cell id.
-- A table, not folded into template_pair_scores: folded, DuckDB planned that model's left join with
-- every cell's columns on the hash side (0.8 of its 1.4 s at 1M pairs with no control cell).
with cells as (
    select cell_id, measurement_id, persona_pair_id, is_control, score, mean_axis_delta,
        regexp_replace(persona_pair_id, '_engineered$', '') as base_persona_pair_id,
    from {{ ref('int_cell_scores') }}
),

candidates as (  -- a cell can have a control arm only where its base pair has a control cell at all
    select * from cells
    semi join (select base_persona_pair_id from cells where is_control) as controlled using (base_persona_pair_id)
),

scenario_sets as (  -- every planned pair counts (a failed generation asked its scenario too)
    -- of the candidates only: grouping every pair's scenarios was most of template_pair_scores'
    -- build when no measurement has control cells (1.3 of 1.9 s at 1M pairs)
    select cell_id, list_sort(list(distinct coalesce(scenario_id, md5(scenario_text)))) as scenarios,
    from {{ ref('int_pairs_measured') }}
    where cell_id in (select cell_id from candidates)
    group by cell_id
),

generators as (
    select measurement_id, generator_model from {{ ref('stg_raw__measurements') }}
),

described as (
    select candidates.*, scenario_sets.scenarios, generators.generator_model,
    from candidates
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
