{{ config(post_hook="{{ comment_panel_columns() }}") }}
{{ incremental_by_measurement(context='cell_context') }}
-- The selection table: one row per measured cell (template x persona pair x measurement),
-- compared with its persona pair's control cell (the same measurement without persona text).
-- A cell carries its measurement's protocol: 'guide' cells the guide's score and components,
-- 'anchored' cells the anchored protocol's (int_anchored_cells); neither fills the other's columns.
-- Incremental by measurement (macros/incremental.sql); what a cell reads beyond its measurement's
-- rows (its control arm, its persona pair, its measurement's settings: macros/contexts.sql) is
-- hashed into context_version, and a build recomputes a measurement whose cells' context changed.
-- (Rebuilding the table whole was 1.0 s of adding a 64-pair run to a 1M-pair warehouse.)
with protocols as (
    select measurement_id, protocol from {{ ref('int_measurement_protocols') }}
),

cells as (
    select guide.*, 'guide' as protocol, guide.is_recommended as is_export_recommended,
    from {{ ref('int_cell_scores') }} as guide
    left join protocols using (measurement_id)
    where coalesce(protocols.protocol, 'guide') = 'guide' and {{ measurements_to_build('guide.measurement_id') }}
    union all by name
    select * exclude (axis_delta_threshold, min_side_threshold, off_axis_threshold), 'anchored' as protocol,
    from {{ ref('int_anchored_cells') }}
    where {{ measurements_to_build() }}
),

final as (
    select
        -- ids
        cells.cell_id as id,
        cells.cell_id,
        cells.measurement_id,
        {{ measurement_version('cells.measurement_id') }} as measurement_version,
        {{ cell_context_version() }} as context_version,
        cells.protocol,
        cells.template_id,
        cells.persona_pair_id,
        -- what was measured
        cells.template_text,
        cells.template_kind,
        cells.is_control,
        replace(cells.template_text, '{persona}', '{{ "{{ persona }}" }}') as template_jinja,
        coalesce(persona_pairs.neg_persona, cells.neg_persona)
            || '->' || coalesce(persona_pairs.pos_persona, cells.pos_persona) as axis,
        coalesce(persona_pairs.pos_persona, cells.pos_persona) as pos_persona,
        coalesce(persona_pairs.neg_persona, cells.neg_persona) as neg_persona,
        persona_pairs.positive_behavior,
        persona_pairs.negative_behavior,
        persona_pairs.source_id,
        case when persona_pairs.source_id is not null then 'persona_pair' end as source_type,
        -- how it was measured
        measurements.generator_model,
        array_to_string(coalesce(cells.judge_models_seen, measurements.judge_models), ', ') as judge_model,
        coalesce(cells.judge_models_seen, measurements.judge_models) as judge_models,
        measurements.temperature,
        measurements.seed,
        -- the score and its components
        cells.score,
        cells.score_se,
        cells.score_ci_low,
        cells.score_ci_high,
        cells.score_ci_method,
        cells.n_bootstrap,
        cells.score_ci_level,
        cells.p_top_k,
        cells.score_axis_off_axis,
        cells.on_axis,
        cells.off_axis,
        -- against the control arm: null where the measurement has no control cell for this persona pair
        controls.control_cell_id,
        cells.score - controls.control_score as score_vs_control,
        cells.mean_axis_delta - controls.control_mean_axis_delta as axis_delta_vs_control,
        {%- for part in score_parts() %}
        cells.factor_{{ part }},
        {%- endfor %}
        cells.is_recommended as recommended,
        -- the rule upstream's stats export states (the guide's recommended; an anchored cell's other rule)
        cells.is_export_recommended as export_recommended,
        -- an anchored cell has no score interval: never confidently recommended
        coalesce(cells.is_recommended_confident, false) as recommended_confident,
        cells.n_success as n,
        cells.n_success,
        cells.n_errors,
        cells.n_planned,
        cells.error_rate,
        cells.n_strict_pass,
        cells.strict_pass_rate,
        cells.mean_axis_delta,
        cells.mean_positive_delta,
        cells.mean_negative_delta,
        cells.mean_pairwise_positive_delta,
        cells.mean_pairwise_negative_delta,
        cells.mean_off_axis_problem,
        cells.usable_rate,
        cells.mean_max_style_abs_delta,
        cells.mean_abs_word_delta_frac,
        cells.mean_word_delta_frac,
        cells.persona_echo_rate,
        cells.refusal_or_ai_break_rate,
        cells.mean_axis_delta_judge_std,
        cells.mean_axis_judge_abs_disagreement,
        cells.common_spurious_axes,
        cells.strict_pass_persona_pairs,
        cells.style_delta_means,
        -- upstream's v3 columns (same names as its published stats)
        cells.mean_axis_delta_judge_mean,
        cells.mean_axis_judge_mean_abs_disagreement,
        cells.mean_axis_order_disagreement,
        cells.mean_axis_delta_by_judge,
        cells.axis_order_disagreement_by_judge,
        cells.mean_max_off_axis_category_likert,
        cells.off_axis_likert_means,
        cells.mean_response_token_jaccard,
        cells.mean_pos_repeated_token_frac,
        cells.mean_neg_repeated_token_frac,
        cells.judge_persona_echo_rate,
        cells.judge_refusal_or_ai_break_rate,
        cells.persona_echo_hit_rate,
        cells.refusal_phrase_hit_rate,
        -- the anchored protocol's columns (null for guide cells; upstream's names)
        cells.mean_delta_pos_vs_base,
        cells.mean_delta_base_vs_neg,
        cells.mean_min_side_delta,
        cells.mean_overall_score,
        cells.mean_gate_off_axis_problem,
        cells.n_judge_did_not_commit,
        cells.judge_did_not_commit_rate,
        cells.axis_judge_methods,
        cells.exclude_confound_dims,
        {%- for column in panel_mean_columns() %}
        cells.{{ column }},
        {%- endfor %}
    from cells
    {{ cell_context_joins('cells') }}  -- controls: the one rule linking a cell to its control arm (int_control_arms.sql)
)

select * from final
