-- One row per scenario an upstream selection kept (`data/selections/<name>.jsonl`), linked to
-- what it was chosen for (its `_summary.json`: template and axis) and to the scenarios and
-- templates the warehouse holds. A selection is a pool of existing scenarios, not new ones.
with selected as (
    select * from {{ ref('stg_raw__selections') }}
    where level = 'scenario'
),

summaries as (
    select * from {{ ref('stg_raw__selections') }}
    where level = 'summary'
),

scenarios as (
    select * from {{ ref('stg_raw__scenarios') }}
),

final as (
    select
        -- ids
        {{ short_id('sel', 'selected.selection_id', 'selected.record_id') }} as id,
        selected.selection_id,
        selected.scenario_id,
        summaries.persona_pair_id,
        case when summaries.template_text is not null then {{ template_id('summaries.template_text') }} end
            as template_id,
        -- what it was chosen for
        summaries.template_text,
        summaries.generator_model,
        -- the scenario
        selected.prompt,
        selected.scenario_source,
        selected.scenario_config,
        selected.is_self_contained,
        scenarios.scenario_id is not null as is_known_scenario,
        -- the numbers it was kept by
        selected.selection_score,
        selected.axis_delta,
        selected.off_axis_problem,
        selected.is_strict_pass,
        row_number() over (partition by selected.selection_id order by selected.line_no) as rank_in_file,
    from selected
    left join summaries using (selection_id)
    left join scenarios on scenarios.scenario_id = selected.scenario_id
)

select * from final
