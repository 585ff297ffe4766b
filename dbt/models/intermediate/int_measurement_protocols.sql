{{ incremental_by_measurement(every_measurement=true) }}
-- One row per measurement: the judging protocol it was measured under, and (anchored) its settings.
-- 'anchored' (upstream after 2026-07): each pole judged against a no-persona baseline answer; a load
-- says so (params.protocol) or its pairs carry anchored judge calls. Every other measurement is
-- 'guide' (the seed guide's protocol: the poles judged against each other). Marts never mix the two.
-- Incremental by measurement (macros/incremental.sql): adding a run reads that run's judgments and
-- exported records only (the records' JSON was most of a rebuild's time).
with measurements as (
    select * from {{ ref('stg_raw__measurements') }}
    where {{ measurements_to_build(every_measurement=true) }}
),

anchored_calls as (
    select distinct measurement_id from {{ ref('stg_raw__judgments') }}
    where list_contains({{ sql_text_list(anchored_criteria()) }}, criterion)
        and {{ measurements_to_build(every_measurement=true) }}
),

exported_anchored as (  -- the records' typed fields (ingest/typed.py): an anchored export's side deltas
    -- an examples file psw exported (psw export-stats) states the run's excluded dimensions on each record
    select measurement_id,
        min(fields.exclude_confound_dims) as exported_exclude_confound_dims,
    from {{ ref('stg_raw__exported_pairs') }}
    where {{ measurements_to_build(every_measurement=true) }}
    group by measurement_id
    having bool_or(fields.delta_pos_vs_base is not null)
),

final as (
    select
        measurements.measurement_id,
        case when measurements.declared_protocol = 'anchored'
                  or anchored_calls.measurement_id is not null or exported_anchored.measurement_id is not null
             then 'anchored' else 'guide' end as protocol,
        -- the gate's excluded off-axis categories (as the load recorded them, else as the records of an
        -- examples file psw exported state them) and the strict_pass thresholds the run used
        -- (upstream's defaults where it does not say: dbt vars anchored_*)
        list_sort(coalesce(json_transform(measurements.params -> 'exclude_confound_dims', '["VARCHAR"]'),
                           exported_anchored.exported_exclude_confound_dims, []::varchar[]))
            as exclude_confound_dims,
        coalesce((measurements.params ->> 'axis_delta_threshold')::double, {{ var('anchored_axis_delta_threshold') }})
            as axis_delta_threshold,
        coalesce((measurements.params ->> 'min_side_threshold')::double, {{ var('anchored_min_side_threshold') }})
            as min_side_threshold,
        coalesce((measurements.params ->> 'off_axis_threshold')::double, {{ var('anchored_off_axis_threshold') }})
            as off_axis_threshold,
        coalesce((measurements.params ->> 'max_word_delta_frac')::double, 0.0) as max_word_delta_frac,
        measurements.params ->> 'inspect_log' as inspect_log,
        {{ measurement_version('measurements.measurement_id') }} as measurement_version,
    from measurements
    left join anchored_calls using (measurement_id)
    left join exported_anchored using (measurement_id)
)

select * from final
