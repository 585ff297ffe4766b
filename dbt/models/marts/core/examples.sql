-- One row per measured pair: the scenario, both completions, every rating and reason,
-- and the flags. The proof behind each cell's score.
with pairs as (
    select * from {{ ref('int_pairs_scored') }}
),

ratings as (
    select
        pair_id,
        list({
            'judge_model': judge_model,
            'criterion': criterion,
            'prompt_hash': prompt_hash,
            'pos_label': pos_label,
            'output': output::varchar,
            'raw_text': raw_text,
            'error': error
        } order by judge_model, criterion) as ratings,
    from {{ ref('stg_raw__judgments') }}
    group by pair_id
),

style as (
    select pair_id, map(list(style_dim order by style_dim), list(style_delta order by style_dim)) as style_deltas,
    from {{ ref('int_pair_style_deltas') }}
    group by pair_id
),

exported_details as (
    select record_id as exported_record_id, axis_judgments::varchar as exported_axis_judgments,
    from {{ ref('stg_raw__exported_pairs') }}
    where axis_judgments is not null
),

final as (
    select
        -- ids
        pairs.pair_id,
        pairs.cell_id,
        pairs.measurement_id,
        pairs.template_id,
        pairs.persona_pair_id,
        pairs.scenario_id,
        pairs.sample_idx,
        -- what was asked
        pairs.template_text,
        replace(pairs.template_text, '{persona}', '{{ "{{ persona }}" }}') as template_jinja,
        pairs.neg_persona || '->' || pairs.pos_persona as axis,
        pairs.pos_persona,
        pairs.neg_persona,
        pairs.scenario_text,
        pairs.pos_prompt,
        pairs.neg_prompt,
        -- what came back
        pairs.pos_response,
        pairs.neg_response,
        pairs.is_error,
        pairs.error,
        pairs.partial_judge_error,
        -- judge metrics
        pairs.n_judges,
        pairs.judge_models,
        pairs.axis_delta_by_judge,
        pairs.axis_delta,
        pairs.axis_delta_judge_std,
        pairs.axis_judge_mean_abs_disagreement,
        pairs.positive_delta,
        pairs.negative_delta,
        pairs.pairwise_positive_delta,
        pairs.pairwise_negative_delta,
        pairs.off_axis_problem,
        pairs.max_style_abs_delta,
        style.style_deltas,
        pairs.likely_spurious_axis,
        -- lengths
        pairs.pos_words,
        pairs.neg_words,
        pairs.pos_chars,
        pairs.neg_chars,
        pairs.word_delta_frac,
        -- flags
        pairs.is_usable_for_training,
        pairs.has_persona_echo,
        pairs.has_refusal_or_ai_break,
        pairs.is_strict_pass,
        pairs.exported_is_strict_pass,
        pairs.metrics_origin,
        -- raw ratings and reasons
        ratings.ratings,
        exported_details.exported_axis_judgments,
    from pairs
    left join ratings using (pair_id)
    left join style using (pair_id)
    left join exported_details using (exported_record_id)
)

select * from final
