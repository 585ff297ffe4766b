{{ incremental_by_measurement() }}
-- Pairs from exported examples files, parsed once per measurement version (macros/incremental.sql).
-- Ingest computed each record's pair_id (warehouse.keys.pair_id) and refused two different
-- records with one key, so every record here is its own pair.
{%- set panels = judge_panels() %}
with exported as (
    select *
    from {{ ref('stg_raw__exported_pairs') }}
    where {{ measurements_to_build() }}
),

with_v3 as (
    select
        *,
        fields.judge_axis,
    from exported
),

final as (
    select
        pair_id,
        {{ cell_id('measurement_id', 'template_text', 'persona_pair_id') }} as cell_id,
        {{ template_id('template_text') }} as template_id,
        measurement_id,
        template_text,
        persona_pair_id,
        scenario_id,
        scenario_text,
        sample_idx,
        source_run,
        row_idx,
        pos_persona,
        neg_persona,
        pos_prompt,
        neg_prompt,
        pos_messages,
        neg_messages,
        pos_response,
        neg_response,
        -- an anchored export's baseline answer (upstream exports no baseline prompt)
        fields.base_generation_prompt as base_prompt,
        fields.base_response,
        error,
        is_error,
        case when is_error then 0 else coalesce(len(judge_models), 1) end as n_judges,
        judge_models,
        map_from_entries(list_transform(list_filter(judge_axis, lambda judge: judge.judge_model is not null),
            lambda judge: {'k': judge.judge_model, 'v': judge.axis_delta})) as axis_delta_by_judge,
        axis_delta,
        axis_delta_judge_std,
        axis_judge_mean_abs_disagreement,
        positive_delta,
        negative_delta,
        -- a v3 export carries its judges' pairwise deltas, not their mean
        coalesce(pairwise_positive_delta, list_avg(list_transform(judge_axis, lambda judge: judge.pairwise_positive_delta)))
            as pairwise_positive_delta,
        coalesce(pairwise_negative_delta, list_avg(list_transform(judge_axis, lambda judge: judge.pairwise_negative_delta)))
            as pairwise_negative_delta,
        list_avg(list_transform(judge_axis, lambda judge: (abs(judge.positive_forward_delta - judge.positive_reverse_delta)
            + abs(judge.negative_forward_delta - judge.negative_reverse_delta)) / 2)) as axis_order_disagreement,
        off_axis_problem,
        max_style_abs_delta,
        {{ exported_v3_columns('fields', panels) }}
        is_usable_for_training,
        has_persona_echo,
        has_refusal_or_ai_break,
        likely_spurious_axis,
        {{ word_count('pos_response') }} as pos_words,
        {{ word_count('neg_response') }} as neg_words,
        length(coalesce(pos_response, '')) as pos_chars,
        length(coalesce(neg_response, '')) as neg_chars,
        word_delta_frac as exported_word_delta_frac,
        is_strict_pass as exported_is_strict_pass,
        null::varchar as partial_judge_error,
        axis_judgments::varchar as exported_axis_judgments,
        judge_axis as exported_judge_axis,
        'exported' as metrics_origin,
        loaded_at,
        {{ measurement_version() }} as measurement_version,
    from with_v3
)

select * from final
