-- Cosine between vectors of the same model, revision, layer and hidden size: cell vectors (the
-- newest per cell) and imported vectors (the newest per trait). Two cell vectors meet only within
-- one token reduction; an imported vector meets every vector of its model and layer, because
-- whether another tool's direction is one of ours is what importing it asks.
-- The interval of a cosine is the percentile interval of the cosines between the two vectors'
-- bootstrap replicates (`psw extract vectors --bootstrap N`: each recomputed over its cell's pairs
-- resampled), replicate b against replicate b; an imported vector has no replicates and enters
-- as itself, so a cell-vs-imported interval is the cell side's uncertainty only.
with cell_vectors as (
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
        runs.model_id,
        coalesce(runs.model_revision, '') as model_revision,
        vectors.created_at,
    from {{ ref('stg_activation__vectors') }} as vectors
    inner join {{ ref('stg_activation__runs') }} as runs using (run_id)
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
        list_cosine_similarity(vector_a.vector, vector_b.vector)::double as cosine,
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
    select sides.geometry_id, list_cosine_similarity(side_a.vector, side_b.vector)::double as cosine,
    from sides
    inner join replicates as side_a on side_a.vector_id = sides.vector_id_a
    inner join replicates as side_b on side_b.vector_id = sides.vector_id_b and side_b.replicate = side_a.replicate
    union all
    -- one side resampled, the other (an imported vector, or a cell vector stored without
    -- replicates) as it is
    select sides.geometry_id, list_cosine_similarity(resampled.vector, fixed.vector)::double as cosine,
    from sides
    inner join replicates as resampled
        on resampled.vector_id = if(sides.is_a_resampled, sides.vector_id_a, sides.vector_id_b)
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
