-- Style deltas (pos - neg) in long form: one row per pair x style dimension.
with judged as (
    select pair_id, style_dim, avg(style_delta) as style_delta,
    from {{ ref('int_judgment_style_deltas') }}
    group by pair_id, style_dim
),

exported as (
    -- one parse per record for every known style dimension (var style_dims); absent dims are null
    select
        pairs.pair_id,
        unnest({{ var('style_dims') | tojson | replace('"', "'") }}) as style_dim,
        unnest(json_extract_string(exported.record, [
            {%- for dim in var('style_dims') %}
            '$.style_delta_{{ dim }}_pos_minus_neg'{{ ',' if not loop.last }}
            {%- endfor %}
        ]))::double as style_delta,
    from {{ ref('int_pairs_measured') }} as pairs
    join {{ ref('stg_raw__exported_pairs') }} as exported
        on exported.record_id = pairs.exported_record_id
    where not pairs.is_error
)

select * from judged
union all
select * from exported
where style_delta is not null
