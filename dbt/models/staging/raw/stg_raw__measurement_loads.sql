-- Per measurement: how many raw rows it has and when the last of them was loaded. Raw
-- tables are append-only, so these two change exactly when the measurement's content does.
with loads as (
    select measurement_id, count(*) as n_rows, max(loaded_at) as last_loaded_at,
    from {{ source('raw', 'exported_pairs') }}
    group by measurement_id
    union all
    select measurement_id, count(*), max(loaded_at),
    from {{ source('raw', 'pairs') }}
    group by measurement_id
    union all
    select measurement_id, count(*), max(loaded_at),
    from {{ source('raw', 'judgments') }}
    group by measurement_id
)

select
    measurement_id,
    sum(n_rows)::bigint as n_rows,
    max(last_loaded_at) as last_loaded_at,
from loads
group by measurement_id
