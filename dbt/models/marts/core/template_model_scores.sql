-- One row per template measured with at least one generator model: a model's template score
-- is the mean over its persona pairs of 100 * clamp(mean_axis_delta / 8)
-- * (1 - clamp((mean_off_axis_problem - 1) / 6)); this mart summarises those scores (and the
-- components) across generator models (macros/model_matrix.sql).
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

model_templates as (
    select
        basis,
        generator_model,
        template_id,
        any_value(template_text) as template_text,
        count(*) as n_persona_pairs,
        sum(n_success) as n_success,
        avg({{ axis_off_axis_score('mean_axis_delta', 'mean_off_axis_problem') }}) as score,
        {%- for column, name in model_matrix_metrics() %}
        avg({{ column }}) as {{ column }},
        {%- endfor %}
    from model_cells
    group by basis, generator_model, template_id
),

final as (
    select
        {{ short_id('tm', 'template_id', "nullif(basis, 'measured')") }} as id,
        basis,
        template_id,
        any_value(template_text) as template_text,
        {{ across_models('score') }}
        max(n_persona_pairs) as n_persona_pairs,
        sum(n_success) as n_success,
        any_value(digests.cells_version) as cells_version,
    from model_templates
    left join digests using (template_id)
    group by basis, template_id
)

select * from final
