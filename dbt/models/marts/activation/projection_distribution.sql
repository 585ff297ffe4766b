-- Every projection onto a cell vector, in long form, for distributions per condition:
-- prompted_pos / prompted_neg (the measured pairs' completions under each persona),
-- baseline (steered at coefficient 0) and steered (any other coefficient).
with pair_stats as (
    select * from {{ ref('stg_activation__pair_stats') }}
),

generations as (
    select * from {{ ref('stg_activation__steering_generations') }}
),

vectors as (
    select vectors.vector_id, runs.model_id, vectors.reduction,
    from {{ ref('stg_activation__vectors') }} as vectors
    left join {{ ref('stg_activation__runs') }} as runs using (run_id)
),

prompted as (
    select
        stat_id || ':' || side as projection_row_id,
        vector_id,
        cell_id,
        layer,
        'prompted_' || side as condition,
        null::double as coeff,
        null::varchar as positions,
        pair_id as source_id,
        case when side = 'pos' then pos_projection else neg_projection end as projection,
    from pair_stats, unnest(['pos', 'neg']) as sides(side)
),

steered as (
    select
        generation_id as projection_row_id,
        vector_id,
        cell_id,
        layer,
        case when coeff = 0 then 'baseline' else 'steered' end as condition,
        coeff,
        positions,
        generation_id as source_id,
        projection,
    from generations
    where projection is not null
),

final as (
    select unioned.*, vectors.model_id, vectors.reduction,
    from (select * from prompted union all by name select * from steered) as unioned
    left join vectors using (vector_id)
)

select * from final
