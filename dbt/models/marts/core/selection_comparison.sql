-- Each count a selection's summary publishes beside the count of the pool loaded with it:
-- n_selected and source_counts (per source), so a user sees whether the `.jsonl` is the pool the
-- summary describes. The summary's stage statistics are listed as published (stage_a.*,
-- stage_b_summary.*, numbers only) with our value where the warehouse measured the same cell.
with summaries as (  -- upstream's; a summary psw wrote is compared in selection_reproduction
    select * from {{ ref('stg_raw__selections') }}
    where level = 'summary' and written_by is null
),

pool as (
    select selection_id, scenario_source, count(*) as n
    from {{ ref('selections') }}
    group by all
),

published_counts as (
    select selection_id, 'n_selected' as statistic, null as scenario_source, n_selected::double as published,
    from summaries
    union all
    select selection_id, 'source_counts', item.source, item.n::double
    from summaries,
        unnest({{ selection_source_counts('source_counts') }}) as items(item)
),

counted as (
    select
        published_counts.*,
        case when statistic = 'n_selected'
             then (select sum(n) from pool where pool.selection_id = published_counts.selection_id)
             else (select sum(n) from pool where pool.selection_id = published_counts.selection_id
                                             and pool.scenario_source = published_counts.scenario_source)
        end as ours,
    from published_counts
),

stages as (  -- the stage statistics, as published
    select summaries.selection_id, stage || '.' || key as statistic, null as scenario_source,
           try_cast(summaries.record -> stage ->> key as double) as published, null::double as ours,
    from summaries, unnest(['stage_a', 'stage_b_summary']) as stages(stage),
        unnest(coalesce(json_keys(summaries.record -> stage), [])) as keys(key)
    where json_type(summaries.record -> stage -> key) in ('BIGINT', 'UBIGINT', 'DOUBLE')
),

final as (
    select
        selection_id,
        statistic,
        scenario_source,
        published,
        coalesce(ours, 0) as ours,
        case when coalesce(ours, 0) = published then 'match' else 'differs' end as status,
    from counted
    union all
    select selection_id, statistic, scenario_source, published, ours, 'not_derivable',
    from stages
)

select * from final
