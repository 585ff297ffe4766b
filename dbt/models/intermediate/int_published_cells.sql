{{ config(materialized='ephemeral') }}
-- Upstream's published cells (a `*_template_pair_stats` row that names its generator: a
-- model-matrix stats file, or a load with --generator-model) of generators we hold no pairs
-- for, in the columns the model matrix reads (macros/model_matrix.sql). The matrix marts then
-- compute upstream's matrix from these cells with the same macro as from ours (basis published).
with published as (
    select * from {{ ref('stg_raw__published_stats') }}
    where level = 'template_pair' and generator_model is not null
),

measured_generators as (
    select distinct generator_model from {{ ref('template_pair_scores') }}
    where generator_model is not null
),

final as (
    select
        -- ids
        record_id as cell_id,
        measurement_id,
        generator_model,
        {{ template_id('template_text') }} as template_id,
        template_text,
        persona_pair_id,
        -- the published numbers (upstream's names are ours)
        try_cast(record ->> 'n' as integer) as n_success,
        {%- for column, name in model_matrix_metrics() %}
        try_cast(record ->> '{{ column }}' as double) as {{ column }},
        {%- endfor %}
    from published
    anti join measured_generators using (generator_model)
)

select * from final
