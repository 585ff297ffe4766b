-- Cells of anchored measurements: upstream's per-cell means of the anchored metrics over successful
-- pairs (validate_persona_axes.py summarize; export_persona_template_stats.py), errors counted apart,
-- and how many pairs a judge never committed on (macros/pair_means.sql, anchored_pair_means: the
-- same list int_anchored_templates pools over a template's pairs). recommended is the anchored protocol's own rule:
-- n >= var anchored_recommended_min_n, strict_pass_rate >= var anchored_recommended_min_strict_pass_rate,
-- mean axis_delta and mean min_side_delta at least the run's thresholds, mean gate at most its
-- off-axis threshold, mean style <= 2, no echo and no refusal (validate_persona_axes.py summarize: the
-- run artifact's own summary). is_export_recommended is upstream's other rule, the one its stats
-- export writes into an anchored `_template_pair_stats` file (macros/recommended.sql, as for guide
-- cells and templates): psw export-stats writes it and published_comparison compares a stats file with it.
with pairs as (
    select * from {{ ref('int_anchored_pairs') }}
),

cells as (
    select
        cell_id,
        any_value(measurement_id) as measurement_id,
        any_value(template_id) as template_id,
        any_value(template_text) as template_text,
        any_value(template_kind) as template_kind,
        any_value(is_control) as is_control,
        any_value(persona_pair_id) as persona_pair_id,
        arg_max(pos_persona, pos_persona is not null) as pos_persona,
        arg_max(neg_persona, neg_persona is not null) as neg_persona,
        any_value(axis_delta_threshold) as axis_delta_threshold,
        any_value(min_side_threshold) as min_side_threshold,
        any_value(off_axis_threshold) as off_axis_threshold,
        any_value(exclude_confound_dims) as exclude_confound_dims,
        {{ anchored_pair_means() }}
    from pairs
    group by cell_id
),

final as (
    select
        *,
        coalesce(n_success >= {{ var('anchored_recommended_min_n') }}
            and strict_pass_rate >= {{ var('anchored_recommended_min_strict_pass_rate') }}
            and mean_axis_delta >= axis_delta_threshold
            and mean_min_side_delta >= min_side_threshold
            and mean_gate_off_axis_problem <= off_axis_threshold
            and mean_max_style_abs_delta <= {{ var('strict_max_style_abs_delta') }}
            and persona_echo_rate = 0
            and refusal_or_ai_break_rate = 0, false) as is_recommended,
        {{ recommended('cells') }} as is_export_recommended,
    from cells
)

select * from final
