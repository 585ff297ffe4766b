{{ incremental_by_measurement() }}
-- Pairs from exported examples files, parsed once per measurement version (macros/incremental.sql).
-- Ingest computed each record's pair_id (warehouse.keys.pair_id) and refused two different
-- records with one key, so every record here is its own pair.
with exported as (
    select *
    from {{ ref('stg_raw__exported_pairs') }}
    where {{ measurements_to_build() }}
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
        error,
        is_error,
        case when is_error then 0 else coalesce(len(judge_models), 1) end as n_judges,
        judge_models,
        null::map(varchar, double) as axis_delta_by_judge,
        axis_delta,
        axis_delta_judge_std,
        axis_judge_mean_abs_disagreement,
        positive_delta,
        negative_delta,
        pairwise_positive_delta,
        pairwise_negative_delta,
        off_axis_problem,
        max_style_abs_delta,
        {{ style_map_from_export('record') }} as style_deltas,
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
        'exported' as metrics_origin,
        loaded_at,
        {{ measurement_version() }} as measurement_version,
    from exported
)

select * from final
