-- One row per template x persona pair measured with at least one generator model: how the
-- cell holds up across generator models (the model matrix, macros/model_matrix.sql).
with cells as (
    {{ matrix_cells() }}
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
    from scored
    group by basis, template_id, persona_pair_id
)

select * from final
