-- Cosine between cell vectors of the same model, layer and token reduction: which traits
-- share a direction. Computed here from the stored vectors; the newest vector per cell counts.
with vectors as (
    select * from {{ ref('stg_activation__vectors') }}
),

runs as (
    select * from {{ ref('stg_activation__runs') }}
),

latest as (
    select
        vectors.vector_id,
        vectors.cell_id,
        vectors.layer,
        vectors.reduction,
        vectors.vector,
        vectors.vector_norm,
        runs.model_id,
        coalesce(runs.model_revision, '') as model_revision,
    from vectors
    inner join runs using (run_id)
    qualify row_number() over (
        partition by runs.model_id, coalesce(runs.model_revision, ''), vectors.cell_id,
            vectors.layer, vectors.reduction
        order by vectors.created_at desc, vectors.vector_id
    ) = 1
),

final as (
    select
        -- ids
        cell_a.vector_id || ':' || cell_b.vector_id as geometry_id,
        cell_a.vector_id as vector_id_a,
        cell_b.vector_id as vector_id_b,
        cell_a.cell_id as cell_id_a,
        cell_b.cell_id as cell_id_b,
        cell_a.model_id,
        nullif(cell_a.model_revision, '') as model_revision,
        -- where
        cell_a.layer,
        cell_a.reduction,
        -- geometry
        list_cosine_similarity(cell_a.vector, cell_b.vector)::double as cosine,
        cell_a.vector_norm as norm_a,
        cell_b.vector_norm as norm_b,
    from latest as cell_a
    inner join latest as cell_b
        on cell_a.model_id = cell_b.model_id
        and cell_a.model_revision = cell_b.model_revision
        and cell_a.layer = cell_b.layer
        and cell_a.reduction = cell_b.reduction
)

select * from final
