-- Our reproduction of an upstream selection beside upstream's own summary: each summary psw wrote
-- (`export-selection --format upstream --stage-a`, key `//written_by`) against each of upstream's
-- summaries for the same axis (and generator, when both say), statistic by statistic: the
-- template stage A chose, n_selected, source_counts (one row per source either side names; a
-- source one side lacks counts 0 there) and the stage statistics (stage_a.KEY, stage_b_summary.KEY,
-- every key either side writes). Upstream rounds stage statistics to 3 dp, and so does psw's
-- writer: numbers agree within half the last place (0.0005).
with summaries as (
    select * from {{ ref('stg_raw__selections') }}
    where level = 'summary'
),

flat as (  -- one row per statistic a summary states, its value as JSON
    select selection_id, 'template' as statistic, null::varchar as scenario_source,
           to_json(template_text) as value,
    from summaries
    union all
    select selection_id, 'n_selected', null, to_json(n_selected),
    from summaries
    union all
    select selection_id, 'source_counts', item.source, to_json(item.n),
    from summaries, unnest({{ selection_source_counts('source_counts') }}) as items(item)
    where source_counts is not null
    union all
    select selection_id, stage || '.' || key, null, record -> stage -> key,
    from summaries, unnest(['stage_a', 'stage_b_summary']) as stages(stage),
        unnest(coalesce(json_keys(record -> stage), [])) as keys(key)
    where json_type(record -> stage) = 'OBJECT'
),

matched as (
    select
        upstream.selection_id as upstream_selection_id,
        ours.selection_id as our_selection_id,
        upstream.persona_pair_id,
    from summaries as upstream
    join summaries as ours
        on ours.persona_pair_id = upstream.persona_pair_id
        and (upstream.generator_model is null or ours.generator_model is null
             or upstream.generator_model = ours.generator_model)
    where upstream.written_by is null and ours.written_by is not null
),

statistics as (  -- every statistic either side states
    select distinct matched.*, flat.statistic, flat.scenario_source,
    from matched
    join flat on flat.selection_id in (matched.upstream_selection_id, matched.our_selection_id)
),

valued as (
    select
        statistics.*,
        published.value as published_value,
        ours.value as our_value,
    from statistics
    left join flat as published
        on published.selection_id = statistics.upstream_selection_id
        and published.statistic = statistics.statistic
        and published.scenario_source is not distinct from statistics.scenario_source
    left join flat as ours
        on ours.selection_id = statistics.our_selection_id
        and ours.statistic = statistics.statistic
        and ours.scenario_source is not distinct from statistics.scenario_source
),

typed as (
    select
        *,
        case when json_type(published_value) in ('BIGINT', 'UBIGINT', 'DOUBLE')
             then published_value::double
             when statistic = 'source_counts' then 0 end as published,
        case when json_type(our_value) in ('BIGINT', 'UBIGINT', 'DOUBLE')
             then our_value::double
             when statistic = 'source_counts' then 0 end as ours,
        coalesce(json_type(published_value), 'NULL') = 'NULL' and statistic <> 'source_counts' as is_unpublished,
        coalesce(json_type(our_value), 'NULL') = 'NULL' and statistic <> 'source_counts' as is_unmeasured,
    from valued
),

final as (
    select
        -- ids
        upstream_selection_id,
        our_selection_id,
        persona_pair_id,
        statistic,
        scenario_source,
        -- the two values
        published,
        ours,
        published_value::varchar as published_value,
        our_value::varchar as our_value,
        case
            when is_unmeasured then 'not_measured'
            when is_unpublished then 'not_published'
            when published is not null and ours is not null
                then case when abs(published - ours) <= 0.0005 + 1e-9 then 'agree' else 'differs' end
            when published_value::varchar = our_value::varchar then 'agree'
            else 'differs'
        end as status,
    from typed
)

select * from final
