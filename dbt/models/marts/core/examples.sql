{#- checked by measurement (macros/guarantees.sql, psw_view_scope): every column a rule of examples.yml
    reads (pair_id, cell_id, measurement_id, is_error, metrics_origin, the deltas, off_axis_problem) is
    int_pairs_scored's, which keeps every other measurement's rows as they were; each of its rows is one
    row here (texts is int_pairs_measured, whose rows it copies; ratings, anchored and scenarios are
    joined on their own checked keys, scenarios_by_text keeps one row per text). So the rules on a row's
    values and the key are checked for the measurements not yet passed, and the relationship to
    template_pair_scores over every row of int_pairs_scored -#}
{{ config(materialized='view', psw_checked_by_measurement=['int_pairs_scored']) }}
-- One row per measured pair: the scenario, both completions, every rating and reason,
-- and the flags. The proof behind each cell's score. A view over the pair tables, so the
-- completions are stored once; filtering on cell_id reaches every table underneath.
-- depends_on: {{ ref('template_pair_scores') }}  (its guarantees check it: built first, for the post-hook)
with scored as (
    select * from {{ ref('int_pairs_scored') }}
),

texts as (
    select pair_id, cell_id, scenario_text, pos_prompt, neg_prompt, pos_messages, neg_messages,
        pos_response, neg_response, base_prompt, base_response,
        exported_axis_judgments,
    from {{ ref('int_pairs_measured') }}
),

ratings as (
    select * from {{ ref('int_pair_ratings') }}
),

anchored as (
    select * from {{ ref('int_anchored_pairs') }}
),

scenarios as (  -- the scenario's metadata, where the warehouse holds its scenarios file
    select * from {{ ref('stg_raw__scenarios') }}
),

scenarios_by_text as (  -- for pairs that name no scenario id (a v2 export): the scenario with that text
    select * from scenarios
    qualify row_number() over (partition by scenario_text order by scenario_id) = 1
),

final as (
    select
        -- ids
        scored.pair_id,
        scored.cell_id,
        scored.measurement_id,
        scored.template_id,
        scored.persona_pair_id,
        scored.scenario_id,
        scored.sample_idx,
        scored.source_run,
        scored.row_idx,
        -- what was asked
        scored.template_text,
        scored.template_kind,
        scored.is_control,
        replace(scored.template_text, '{persona}', '{{ "{{ persona }}" }}') as template_jinja,
        scored.neg_persona || '->' || scored.pos_persona as axis,
        scored.pos_persona,
        scored.neg_persona,
        texts.scenario_text,
        coalesce(scenarios.scenario_source, by_text.scenario_source) as scenario_source,
        coalesce(scenarios.scenario_config, by_text.scenario_config) as scenario_config,
        coalesce(scenarios.scenario_axes, by_text.scenario_axes) as scenario_axes,
        coalesce(scenarios.scenario_foundation, by_text.scenario_foundation) as scenario_foundation,
        coalesce(scenarios.scenario_pov, by_text.scenario_pov) as scenario_pov,
        coalesce(scenarios.scenario_frame, by_text.scenario_frame) as scenario_frame,
        coalesce(scenarios.is_self_contained, by_text.is_self_contained) as scenario_is_self_contained,
        texts.pos_prompt,
        texts.neg_prompt,
        texts.pos_messages,
        texts.neg_messages,
        -- what came back
        texts.pos_response,
        texts.neg_response,
        -- the anchored protocol's no-persona baseline (null under the guide's protocol)
        texts.base_prompt,
        texts.base_response,
        scored.is_error,
        scored.error,
        scored.partial_judge_error,
        -- judge metrics
        scored.n_judges,
        scored.judge_models,
        scored.axis_delta_by_judge,
        scored.axis_delta,
        scored.axis_delta_judge_std,
        scored.axis_judge_mean_abs_disagreement,
        scored.axis_delta_judge_mean,
        scored.axis_order_disagreement,
        scored.positive_delta,
        scored.negative_delta,
        scored.pairwise_positive_delta,
        scored.pairwise_negative_delta,
        scored.off_axis_problem,
        scored.max_style_abs_delta,
        scored.style_deltas,
        scored.off_axis_likerts,
        scored.max_off_axis_category_likert,
        scored.likely_spurious_axis,
        -- lengths
        scored.pos_words,
        scored.neg_words,
        scored.pos_chars,
        scored.neg_chars,
        scored.word_delta_frac,
        -- cheap lexical checks
        scored.response_token_jaccard,
        scored.pos_repeated_token_frac,
        scored.neg_repeated_token_frac,
        scored.pos_refusal_phrase_hits,
        scored.neg_refusal_phrase_hits,
        scored.pos_persona_echo_hits,
        scored.neg_persona_echo_hits,
        -- flags: the style judge's, and combined with the phrase hits
        scored.is_usable_for_training,
        scored.has_judge_persona_echo,
        scored.has_judge_refusal_or_ai_break,
        scored.has_persona_echo,
        scored.has_refusal_or_ai_break,
        -- an anchored pair's strict pass is its own protocol's (int_anchored_pairs), never the guide's
        case when anchored.pair_id is not null then anchored.is_strict_pass else scored.is_strict_pass end
            as is_strict_pass,
        scored.exported_is_strict_pass,
        -- the anchored protocol (null under the guide's): each pole against the baseline answer
        case when anchored.pair_id is not null then 'anchored' else 'guide' end as protocol,
        anchored.delta_pos_vs_base,
        anchored.delta_base_vs_neg,
        anchored.min_side_delta,
        anchored.off_axis_problem_likert_gate,
        anchored.is_length_ok,
        anchored.judge_did_not_commit,
        anchored.axis_judge_method,
        anchored.is_control_pair,
        anchored.overall_score,
        scored.metrics_origin,
        -- raw ratings and reasons
        ratings.ratings,
        texts.exported_axis_judgments,
    from scored
    join texts on texts.pair_id = scored.pair_id and texts.cell_id = scored.cell_id
    left join ratings on ratings.pair_id = scored.pair_id and ratings.cell_id = scored.cell_id
    left join anchored on anchored.pair_id = scored.pair_id and anchored.cell_id = scored.cell_id
    left join scenarios on scenarios.scenario_id = scored.scenario_id
    left join scenarios_by_text as by_text
        on scored.scenario_id is null and by_text.scenario_text = texts.scenario_text
)

select * from final
