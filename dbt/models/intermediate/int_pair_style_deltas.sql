-- Style deltas (pos - neg) in long form: one row per pair x style dimension.
with judged as (
    select pair_id, style_dim, avg(style_delta) as style_delta,
    from {{ ref('int_judgment_style_deltas') }}
    group by pair_id, style_dim
),

exported_keys as (
    select pairs.pair_id, exported.record, key,
    from {{ ref('int_pairs_measured') }} as pairs
    join {{ ref('stg_raw__exported_pairs') }} as exported
        on exported.record_id = pairs.exported_record_id,
        unnest(json_keys(exported.record)) as keys(key)
    where not pairs.is_error
      and key like 'style\_delta\_%\_pos\_minus\_neg' escape '\'
),

exported as (
    select
        pair_id,
        regexp_extract(key, '^style_delta_(.*)_pos_minus_neg$', 1) as style_dim,
        (record ->> key)::double as style_delta,
    from exported_keys
)

select * from judged
union all
select * from exported
