-- Every projection onto a vector, in long form, for distributions per condition:
-- prompted_pos / prompted_neg (the measured pairs' completions under each persona),
-- baseline (steered at coefficient 0), steered (any other coefficient), and imported (rows of a
-- projection table from another tool, with its file, line and column).
with pair_stats as (
    select * from {{ ref('stg_activation__pair_stats') }}
),

generations as (
    select * from {{ ref('stg_activation__steering_generations') }}
),

projections as (
    select * from {{ ref('stg_activation__projections') }}
),

imported_vectors as (
    select * from {{ ref('stg_activation__imported_vectors') }}
),

imported_tables as (
    select * from {{ ref('stg_activation__imported_projections') }}
),

examples as (  -- each pair's cell, as `examples` shows it (one row per scored pair); read from the
    -- narrow pair table, not through the view's joins of the texts (activation_cell_stats.sql)
    select pair_id, cell_id, from {{ ref('int_pairs_scored') }}
),

vectors as (
    select vectors.vector_id, runs.model_id, vectors.reduction, null::varchar as trait,
    from {{ ref('stg_activation__vectors') }} as vectors
    left join {{ ref('stg_activation__runs') }} as runs using (run_id)
    union all
    select vector_id, model_id, reduction, trait, from imported_vectors
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

-- a cell vector's pairs are in pair_stats already; an imported vector's come from `extract project`
prompted_on_imported as (
    select
        projections.projection_id as projection_row_id,
        projections.vector_id,
        examples.cell_id,
        imported_vectors.layer,
        projections.response_kind as condition,
        null::double as coeff,
        null::varchar as positions,
        projections.response_id as source_id,
        projections.projection,
    from projections
    inner join imported_vectors using (vector_id)
    left join examples on examples.pair_id = projections.response_id
    where projections.response_kind in ('prompted_pos', 'prompted_neg')
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

measured as (
    select unioned.*, vectors.model_id, vectors.reduction, vectors.trait,
        'extract' as projection_source, null::varchar as source_path, null::varchar as column_name,
    from (
        select * from prompted
        union all by name select * from prompted_on_imported
        union all by name select * from steered
    ) as unioned
    left join vectors using (vector_id)
),

from_tables as (
    select
        projection_id as projection_row_id,
        null::varchar as vector_id,
        null::varchar as cell_id,
        layer,
        'imported' as condition,
        null::double as coeff,
        null::varchar as positions,
        source_path || ':' || line_no as source_id,
        projection,
        model_id,
        reduction,
        trait,
        'imported_table' as projection_source,
        source_path,
        column_name,
    from imported_tables
),

final as (
    select * from measured
    union all by name
    select * from from_tables
)

select * from final
