{#- The model matrix (upstream's template x model summary): how a template (or a cell's
    template x persona pair) holds up across generator models. Written once, used by
    template_model_scores and template_pair_model_scores. -#}

{#- (metric column in template_pair_scores, name in the matrix marts) -#}
{% macro model_matrix_metrics() -%}
    {{ return([
        ('strict_pass_rate', 'strict_pass_rate'),
        ('mean_axis_delta', 'axis_delta'),
        ('mean_off_axis_problem', 'off_axis_problem'),
        ('mean_axis_delta_judge_std', 'judge_std'),
        ('mean_max_style_abs_delta', 'style_delta'),
        ('persona_echo_rate', 'persona_echo_rate'),
        ('refusal_or_ai_break_rate', 'refusal_or_ai_break_rate'),
    ]) }}
{%- endmacro %}

{#- One row per basis x generator model x template x persona pair: the model's cells of that pair
    (one per measurement) pooled by their successful pairs, and the upstream score of the
    pooled means (of the cells matrix_cells keeps: each has a generator and a successful pair).
    `basis`: measured (our cells, template_pair_scores) or published (upstream's cells of a
    generator we hold no pairs for, int_published_cells): the same formula over either. -#}
{% macro model_cells(cells_relation) -%}
    select
        basis,
        generator_model,
        template_id,
        any_value(template_text) as template_text,
        persona_pair_id,
        sum(n_success) as n_success,
        list(cell_id order by cell_id) as cell_ids,
        {%- for column, name in model_matrix_metrics() %}
        sum({{ column }} * n_success) filter (where {{ column }} is not null)
            / sum(n_success) filter (where {{ column }} is not null) as {{ column }},
        {%- endfor %}
    from {{ cells_relation }}
    group by basis, generator_model, template_id, persona_pair_id
{%- endmacro %}

{#- The cells the matrix reads: ours, and the published cells of generators we hold no pairs for; only
    those with a generator, a successful pair and both means of the score (no other cell makes a row, and a
    template without such a cell has no digest to compare: macros/incremental_by_template.sql). -#}
{% macro matrix_cells() -%}
    select * from (
        select 'measured' as basis, generator_model, template_id, template_text, persona_pair_id, n_success, cell_id,
            {%- for column, name in model_matrix_metrics() %} {{ column }},{% endfor %}
        from {{ ref('template_pair_scores') }}
        where protocol is distinct from 'anchored'  -- the guide's scores only: never mixed with the anchored protocol's
        union all
        select 'published' as basis, generator_model, template_id, template_text, persona_pair_id, n_success, cell_id,
            {%- for column, name in model_matrix_metrics() %} {{ column }},{% endfor %}
        from {{ ref('int_published_cells') }}
    ) as cells
    where generator_model is not null and n_success > 0
        and mean_axis_delta is not null and mean_off_axis_problem is not null
{%- endmacro %}

{#- Across the models of a group: the score's mean, sample std (0 for one model), inclusive
    25th percentile and t = mean / (std / sqrt(k)) (0 when both are 0, null when only the
    standard error is 0), and each metric's mean and sample std. -#}
{% macro across_models(score) -%}
        count(distinct generator_model) as model_count,
        list(distinct generator_model order by generator_model) as models,
        map(list(generator_model order by generator_model), list({{ score }} order by generator_model))
            as model_scores,
        avg({{ score }}) as score_mean,
        coalesce(stddev_samp({{ score }}), 0.0) as score_std,
        quantile_cont({{ score }}, 0.25) as score_p25,
        case
            when coalesce(stddev_samp({{ score }}), 0.0) > 0
                then avg({{ score }}) / (stddev_samp({{ score }}) / sqrt(count(*)))
            when avg({{ score }}) = 0 then 0.0
        end as score_t,
        {{ score_lower_bound(score) }} as score_lower_bound,
        {%- for column, name in model_matrix_metrics() %}
        avg({{ column }}) as {{ name }}_mean,
        coalesce(stddev_samp({{ column }}), 0.0) as {{ name }}_std,
        {%- endfor %}
{%- endmacro %}

{#- A one-sided 95% lower bound on the mean over generator models: score_mean - t(0.95, k - 1) *
    score_std / sqrt(k), at least 0. It ranks {80, 80} above {50, 51} above {1, 2} and {0, 0}
    (score_t puts them the other way round, and is null for {80, 80}); with one model nothing is
    known about agreement across models, so the bound is 0, never null: read it with model_count. -#}
{% macro score_lower_bound(score) -%}
    case when count(*) < 2 then 0.0 else round(greatest(0.0, avg({{ score }})
        - {{ student_t95('count(*) - 1') }} * coalesce(stddev_samp({{ score }}), 0.0) / sqrt(count(*))), 2) end
{%- endmacro %}

{#- The one-sided 95% quantile of Student's t with df degrees of freedom (1-30; the normal's past). -#}
{% macro student_t95(df) -%}
    coalesce([6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812, 1.796, 1.782, 1.771,
              1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725, 1.721, 1.717, 1.714, 1.711, 1.708, 1.706,
              1.703, 1.701, 1.699, 1.697][{{ df }}], 1.645)
{%- endmacro %}
