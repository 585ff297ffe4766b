{{ incremental_by_measurement() }}
-- Per cell (measurement x template x persona pair): means over successful pairs,
-- errors counted apart. Incremental by measurement (macros/incremental.sql).
with pairs as not materialized (  -- read twice or more: recomputing a plain read is cheaper than a copy
    select * from {{ ref('int_pairs_scored') }}
    where {{ measurements_to_build() }}
),

style as (
    select cell_id, entry.key as style_dim, avg(entry.value) as mean_style_delta,
    from (select cell_id, unnest(map_entries(style_deltas)) as entry from pairs where not is_error)
    group by all
),

style_by_cell as (
    select cell_id, map(list(style_dim order by style_dim), list(mean_style_delta order by style_dim)) as style_delta_means,
    from style
    group by cell_id
),

cells as (
    select
        cell_id,
        any_value(measurement_id) as measurement_id,
        any_value(measurement_version) as measurement_version,
        any_value(template_id) as template_id,
        any_value(template_text) as template_text,
        any_value(persona_pair_id) as persona_pair_id,
        arg_max(pos_persona, pos_persona is not null) as pos_persona,
        arg_max(neg_persona, neg_persona is not null) as neg_persona,
        {{ pair_metric_means() }}
        list(distinct likely_spurious_axis order by likely_spurious_axis)
            filter (where not is_error and likely_spurious_axis is not null) as common_spurious_axes,
    from pairs
    group by cell_id
),

judges_by_cell as (
    select cell_id, list(distinct judge order by judge) as judge_models_seen,
    from pairs, unnest(pairs.judge_models) as judges(judge)
    group by cell_id
)

select
    cells.*,
    style_by_cell.style_delta_means,
    judges_by_cell.judge_models_seen,
from cells
left join style_by_cell using (cell_id)
left join judges_by_cell using (cell_id)
