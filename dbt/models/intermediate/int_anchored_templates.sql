{{ incremental_by_measurement() }}
-- Templates of anchored measurements: upstream's anchored template stats
-- (export_persona_template_stats.py, _aggregate grouped by template), i.e. the template's successful
-- pairs pooled over its persona pairs, every mean over pairs (a persona pair with more pairs weighs
-- more; a mean of the cells' means would not), by the same list as a cell (macros/pair_means.sql,
-- anchored_pair_means). n_success is upstream's n (successful pairs); strict_pass_rate the share
-- of them with an anchored strict pass. is_recommended is upstream's export rule on the pooled
-- means (macros/recommended.sql: n >= 4, strict_pass_rate >= 0.5, mean_axis_delta >= 3,
-- mean_off_axis_problem <= 2, mean_max_style_abs_delta <= 2, no echo, no refusal), which is what
-- its template_stats file states; the anchored cell rule (int_anchored_cells) has no template form
-- upstream. mean_overall_score and the judge_did_not_commit counts are ours (upstream's stats
-- leave them out). Incremental by measurement (macros/incremental.sql).
with pairs as (
    select * from {{ ref('int_anchored_pairs') }}
    where {{ measurements_to_build() }}
),

pooled as (
    select
        measurement_id,
        template_id,
        any_value(measurement_version) as measurement_version,
        any_value(template_text) as template_text,
        any_value(template_kind) as template_kind,
        any_value(is_control) as is_control,
        any_value(axis_delta_threshold) as axis_delta_threshold,
        any_value(min_side_threshold) as min_side_threshold,
        any_value(off_axis_threshold) as off_axis_threshold,
        any_value(exclude_confound_dims) as exclude_confound_dims,
        count(distinct persona_pair_id) as n_persona_pairs,
        {{ anchored_pair_means() }}
    from pairs
    group by measurement_id, template_id
),

final as (
    select
        *,
        {{ recommended('pooled') }} as is_recommended,
    from pooled
)

select * from final
