{{ config(post_hook="{{ comment_panel_columns() }}") }}
{{ incremental_by_measurement() }}
-- One row per template x measurement: its cells' scores and its pairs pooled.
-- A row carries its measurement's protocol (as template_pair_scores does): a 'guide' template the
-- guide's score summary and its pairs pooled (pair_metric_means, upstream's export rule), an
-- 'anchored' template the anchored protocol's pooled stats (int_anchored_templates); neither fills
-- the other's columns, so no row mixes two protocols' scores.
-- Incremental by measurement (macros/incremental.sql): every column below comes from the
-- measurement's own cells and pairs.
with cells as (
    select * from {{ ref('template_pair_scores') }}
    where {{ measurements_to_build() }}
),

pairs as (  -- the guide's pairs: an anchored measurement's are pooled by int_anchored_templates
    select * from {{ ref('int_pairs_scored') }}
    where {{ measurements_to_build() }}
        and measurement_id not in (select measurement_id from {{ ref('int_measurement_protocols') }}
                                   where protocol = 'anchored')
),

anchored as (
    select * from {{ ref('int_anchored_templates') }}
    where {{ measurements_to_build() }}
),

cell_summary as (
    select
        measurement_id,
        template_id,
        any_value(protocol) as protocol,
        any_value(template_text) as template_text,
        any_value(template_jinja) as template_jinja,
        any_value(template_kind) as template_kind,
        any_value(is_control) as is_control,
        count(*) as n_persona_pairs,
        -- the guide's score (null on anchored cells, so on anchored templates)
        avg(score) as mean_score,
        max(score) as best_score,
        arg_max(persona_pair_id, (coalesce(score, -1), cell_id)) filter (where protocol = 'guide') as best_persona_pair_id,
        arg_max(cell_id, (coalesce(score, -1), cell_id)) filter (where protocol = 'guide') as best_cell_id,
        -- the best cell's own lower bound: the max over noisy cells overstates it (winner's curse)
        arg_max(score_ci_low, (coalesce(score, -1), cell_id)) filter (where protocol = 'guide') as best_score_ci_low,
        arg_max(score_ci_method, (coalesce(score, -1), cell_id)) filter (where protocol = 'guide') as best_score_ci_method,
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
    where cell_summary.protocol = 'guide'
    union all by name
    select
        {{ short_id('tplm', 'cell_summary.measurement_id', 'cell_summary.template_id') }} as id,
        cell_summary.*,
        anchored.n_success as n,
        anchored.* exclude (measurement_id, template_id, template_text, template_kind, is_control, n_persona_pairs,
                            axis_delta_threshold, min_side_threshold, off_axis_threshold, is_recommended),
        anchored.is_recommended as recommended,
    from cell_summary
    join anchored using (measurement_id, template_id)
    where cell_summary.protocol = 'anchored'
)

select * from final
