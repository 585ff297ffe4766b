-- Cosine between vectors of the same model, revision, layer and hidden size: cell vectors (the
-- newest per cell) and imported vectors (the newest per trait). Two cell vectors meet only within
-- one token reduction; an imported vector meets every vector of its model and layer, because
-- whether another tool's direction is one of ours is what importing it asks.
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

final as (
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
)

select * from final
