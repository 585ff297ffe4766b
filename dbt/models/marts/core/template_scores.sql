{{ config(post_hook="{{ comment_panel_columns() }}") }}
{{ incremental_by_measurement() }}
-- One row per template x measurement: its cells' scores and its pairs pooled.
-- Incremental by measurement (macros/incremental.sql): every column below comes from the
-- measurement's own cells and pairs.
with cells as (
    select * from {{ ref('template_pair_scores') }}
    where {{ measurements_to_build() }} and protocol is distinct from 'anchored'  -- the guide's scores only: never mixed
),

pairs as (
    select * from {{ ref('int_pairs_scored') }}
    where {{ measurements_to_build() }}
),

cell_summary as (
    select
        measurement_id,
        template_id,
        any_value(template_text) as template_text,
        any_value(template_jinja) as template_jinja,
        any_value(template_kind) as template_kind,
        any_value(is_control) as is_control,
        count(*) as n_persona_pairs,
        avg(score) as mean_score,
        max(score) as best_score,
        arg_max(persona_pair_id, (coalesce(score, -1), cell_id)) as best_persona_pair_id,
        arg_max(cell_id, (coalesce(score, -1), cell_id)) as best_cell_id,
        -- the best cell's own lower bound: the max over noisy cells overstates it (winner's curse)
        arg_max(score_ci_low, (coalesce(score, -1), cell_id)) as best_score_ci_low,
        count(*) filter (where recommended) as n_recommended,
        count(*) filter (where recommended_confident) as n_recommended_confident,
        -- against the control arm, over the persona pairs that have a control cell
        avg(score_vs_control) as mean_score_vs_control,
        avg(axis_delta_vs_control) as mean_axis_delta_vs_control,
    from cells
    group by measurement_id, template_id
),

pooled as (
    select
        measurement_id,
        template_id,
        any_value(measurement_version) as measurement_version,
        {{ pair_metric_means() }}
    from pairs
    group by measurement_id, template_id
),

final as (
    select
        {{ short_id('tplm', 'cell_summary.measurement_id', 'cell_summary.template_id') }} as id,
        cell_summary.*,
        pooled.n_success as n,
        pooled.* exclude (measurement_id, template_id),
        -- upstream's rule over the template's pairs pooled (n_recommended counts recommended cells)
        {{ recommended('pooled') }} as recommended,
    from cell_summary
    join pooled using (measurement_id, template_id)
)

select * from final
