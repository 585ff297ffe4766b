-- One row per template x persona pair measured with at least one generator model: how the
-- cell holds up across generator models (the model matrix, macros/model_matrix.sql).
-- Incremental by template (macros/incremental_by_template.sql): a build computes the templates whose
-- matrix cells changed since their rows were stored.
{{ incremental_by_template() }}
with matrix as (
    {{ matrix_cells() }}
),

cells as (
    select * from matrix where {{ templates_to_build('matrix') }}
),

digests as (
    select template_id, {{ template_cells_version() }} as cells_version from cells group by template_id
),

model_cells as (
    {{ model_cells('cells') }}
),

scored as (
    select
        *,
        {{ axis_off_axis_score('mean_axis_delta', 'mean_off_axis_problem') }} as score,
    from model_cells
),

final as (
    select
        {{ short_id('tpm', 'template_id', 'persona_pair_id', "nullif(basis, 'measured')") }} as id,
        basis,
        template_id,
        any_value(template_text) as template_text,
        persona_pair_id,
        {{ across_models('score') }}
        sum(n_success) as n_success,
        list_sort(flatten(list(cell_ids))) as cell_ids,  -- sorted: the same list whatever order the rows meet in
        any_value(digests.cells_version) as cells_version,
    from scored
    left join digests using (template_id)
    group by basis, template_id, persona_pair_id
)

select * from final
