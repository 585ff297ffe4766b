-- Cosine between vectors of the same model, revision, layer and hidden size: cell vectors (the
-- newest per cell) and imported vectors (the newest per trait). Two cell vectors meet only within
-- one token reduction; an imported vector meets every vector of its model and layer, because
-- whether another tool's direction is one of ours is what importing it asks.
-- A mean of noisy pair differences is longer than the direction it estimates, so the plain cosine
-- of two cell vectors is shrunk towards 0 (a true 0.8 reads 0.1-0.7 at n = 4-16). `cosine` divides
-- the dot product (unbiased across cells: their pairs are independent) by norms estimated from the
-- cross terms, |mu|^2 ~ mean of d_i . d_j over i != j = (n |m|^2 - mean |d|^2) / (n - 1).
-- The interval of a cosine is the percentile interval of the same statistic between the two
-- vectors' bootstrap replicates (`psw extract vectors --bootstrap N`: each recomputed over its
-- cell's pairs resampled), replicate b against replicate b, each replicate's |m*|^2 lowered by the
-- noise a resample adds and the estimate removes (s^2 / n + s^2 / (n - 1), s^2 = mean |d|^2 - |m|^2);
-- an imported vector has no replicates and enters as itself, so a cell-vs-imported interval is the
-- cell side's uncertainty only. tests/stats/test_trait_cosines.py: a planted 0.8 is recovered and covered.
with spread as (
    select vector_id, avg(diff_norm ^ 2) as mean_sq_diff_norm,
    from {{ ref('stg_activation__pair_stats') }}
    group by vector_id
),

cell_vectors as (
    select
        vectors.vector_id,
        'cell' as vector_kind,
        vectors.cell_id,
        null::varchar as trait,
        vectors.cell_id as vector_label,
        vectors.layer,
        vectors.reduction,
        vectors.vector,
        vectors.vector_norm,
        -- the squared norm of the direction, from cross terms, and the pairs' spread s^2 (null:
        -- one pair or no pair scalars: nothing to correct with)
        case when vectors.n_pairs >= 2 and spread.mean_sq_diff_norm is not null then
            (vectors.n_pairs * vectors.vector_norm ^ 2 - spread.mean_sq_diff_norm) / (vectors.n_pairs - 1)
        end as signal_norm_sq,
        case when vectors.n_pairs >= 2 and spread.mean_sq_diff_norm is not null then
            (spread.mean_sq_diff_norm - vectors.vector_norm ^ 2) * (1.0 / vectors.n_pairs + 1.0 / (vectors.n_pairs - 1))
        end as replicate_noise,
        runs.model_id,
        coalesce(runs.model_revision, '') as model_revision,
        vectors.created_at,
    from {{ ref('stg_activation__vectors') }} as vectors
    inner join {{ ref('stg_activation__runs') }} as runs using (run_id)
    left join spread using (vector_id)
),

imported_vectors as (
    select
        vector_id,
        'imported' as vector_kind,
        null::varchar as cell_id,
        trait,
        'trait:' || trait as vector_label,
        layer,
        reduction,
        vector,
        vector_norm,
        null::double as signal_norm_sq,
        null::double as replicate_noise,
        model_id,
        coalesce(model_revision, '') as model_revision,
        loaded_at as created_at,
    from {{ ref('stg_activation__imported_vectors') }}
),

latest as (
    select *, len(vector) as hidden_size,
    from (select * from cell_vectors union all by name select * from imported_vectors) as unioned
    qualify row_number() over (
        partition by model_id, model_revision, vector_kind, vector_label, layer, reduction
        order by created_at desc, vector_id
    ) = 1
),

pairs as (
    select
        -- ids
        vector_a.vector_id || ':' || vector_b.vector_id as geometry_id,
        vector_a.vector_id as vector_id_a,
        vector_b.vector_id as vector_id_b,
        vector_a.cell_id as cell_id_a,
        vector_b.cell_id as cell_id_b,
        vector_a.trait as trait_a,
        vector_b.trait as trait_b,
        vector_a.vector_label as label_a,
        vector_b.vector_label as label_b,
        vector_a.vector_kind as vector_kind_a,
        vector_b.vector_kind as vector_kind_b,
        vector_a.model_id,
        nullif(vector_a.model_revision, '') as model_revision,
        -- where
        vector_a.layer,
        vector_a.reduction,
        vector_b.reduction as reduction_b,
        vector_a.hidden_size,
        -- geometry
        round(case
            when vector_a.vector_id = vector_b.vector_id then 1.0
            when coalesce(vector_a.signal_norm_sq, 1) > 0 and coalesce(vector_b.signal_norm_sq, 1) > 0 then
                {{ bounded_cosine('list_dot_product(vector_a.vector, vector_b.vector)',
                                  'coalesce(vector_a.signal_norm_sq, vector_a.vector_norm ^ 2)',
                                  'coalesce(vector_b.signal_norm_sq, vector_b.vector_norm ^ 2)') }}
        end, 6) as cosine,
        list_cosine_similarity(vector_a.vector, vector_b.vector)::double as cosine_plain,
        vector_a.signal_norm_sq is not null or vector_b.signal_norm_sq is not null as is_norm_corrected,
        vector_a.vector_norm as norm_a,
        vector_b.vector_norm as norm_b,
    from latest as vector_a
    inner join latest as vector_b
        on vector_a.model_id = vector_b.model_id
        and vector_a.model_revision = vector_b.model_revision
        and vector_a.layer = vector_b.layer
        and vector_a.hidden_size = vector_b.hidden_size
        and (vector_a.reduction = vector_b.reduction
             or vector_a.vector_kind = 'imported' or vector_b.vector_kind = 'imported')
),

replicates as (
    select * from {{ ref('stg_activation__vector_replicates') }}
    where vector_id in (select vector_id from latest)
),

sides as (
    -- which side of each pair has bootstrap replicates
    select
        geometry_id,
        vector_id_a,
        vector_id_b,
        vector_id_a in (select vector_id from replicates) as is_a_resampled,
        vector_id_b in (select vector_id from replicates) as is_b_resampled,
    from pairs
),

replicate_cosines as (
    -- both sides resampled: replicate b against replicate b
    select sides.geometry_id,
        case when sides.vector_id_a = sides.vector_id_b then 1.0 else
            {{ bounded_cosine('list_dot_product(side_a.vector, side_b.vector)',
                              'list_dot_product(side_a.vector, side_a.vector) - coalesce(latest_a.replicate_noise, 0)',
                              'list_dot_product(side_b.vector, side_b.vector) - coalesce(latest_b.replicate_noise, 0)') }}
        end as cosine,
    from sides
    inner join replicates as side_a on side_a.vector_id = sides.vector_id_a
    inner join replicates as side_b on side_b.vector_id = sides.vector_id_b and side_b.replicate = side_a.replicate
    inner join latest as latest_a on latest_a.vector_id = sides.vector_id_a
    inner join latest as latest_b on latest_b.vector_id = sides.vector_id_b
    union all
    -- one side resampled, the other (an imported vector, or a cell vector stored without
    -- replicates) as it is
    select sides.geometry_id,
        {{ bounded_cosine('list_dot_product(resampled.vector, fixed.vector)',
                          'list_dot_product(resampled.vector, resampled.vector) - coalesce(own.replicate_noise, 0)',
                          'coalesce(fixed.signal_norm_sq, fixed.vector_norm ^ 2)') }} as cosine,
    from sides
    inner join replicates as resampled
        on resampled.vector_id = if(sides.is_a_resampled, sides.vector_id_a, sides.vector_id_b)
    inner join latest as own on own.vector_id = resampled.vector_id
    inner join latest as fixed
        on fixed.vector_id = if(sides.is_a_resampled, sides.vector_id_b, sides.vector_id_a)
    where sides.is_a_resampled != sides.is_b_resampled
),

intervals as (
    select geometry_id, quantile_cont(cosine, {{ bootstrap_quantiles() }}) as bounds, count(*) as n_bootstrap,
    from replicate_cosines
    group by geometry_id
),

final as (
    select
        pairs.*,
        round(intervals.bounds[1], 6) as cosine_ci_low,  -- 6 dp: the interpolation leaves float noise
        round(intervals.bounds[2], 6) as cosine_ci_high,
        intervals.n_bootstrap,
        case when intervals.n_bootstrap > 0 then {{ var('bootstrap_level') }}::double end as cosine_ci_level,
    from pairs
    left join intervals using (geometry_id)
)

select * from final
