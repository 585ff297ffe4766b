-- One row per imported vector (trait x layer x reduction x source file): where it came from, how
-- its file numbered layers, and what has been done with it here (steering sweeps, projections).
with imported as (
    select * from {{ ref('stg_activation__imported_vectors') }}
),

generations as (
    select vector_id, count(*) as n_steering_generations,
    from {{ ref('stg_activation__steering_generations') }}
    group by vector_id
),

projections as (
    select vector_id, count(*) as n_projections,
    from {{ ref('stg_activation__projections') }}
    group by vector_id
),

final as (
    select
        -- ids
        imported.vector_id,
        imported.trait,
        'trait:' || imported.trait as vector_label,
        imported.model_id,
        imported.model_revision,
        -- where it sits in the model
        imported.layer,
        imported.reduction,
        imported.hidden_size,
        imported.vector_norm,
        -- where it came from
        imported.source_format,
        imported.source_path,
        imported.file_sha256,
        imported.tensor_name,
        imported.source_layer,
        imported.layer_offset,
        imported.layer_convention,
        -- what was done with it
        coalesce(generations.n_steering_generations, 0) as n_steering_generations,
        coalesce(projections.n_projections, 0) as n_projections,
        imported.loaded_at,
    from imported
    left join generations using (vector_id)
    left join projections using (vector_id)
)

select * from final
