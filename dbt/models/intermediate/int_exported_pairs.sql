{{ config(materialized='incremental', unique_key='pair_id', incremental_strategy='delete+insert') }}
-- Pairs from exported examples files, parsed once: a build reads only the records loaded
-- since the last build. A later export of the same pair (same measurement, template,
-- persona pair, scenario, sample) replaces the earlier one.
with exported as (
    select *
    from {{ ref('stg_raw__exported_pairs') }}
    {% if is_incremental() %}
    where loaded_at > (select coalesce(max(loaded_at), '-infinity'::timestamp) from {{ this }})
    {% endif %}
),

latest as (
    select
        -- the same key as warehouse.keys.pair_id, so an artifact and an export of one pair agree
        'pr_' || left(md5(concat_ws(chr(31), measurement_id, template_text, persona_pair_id, scenario_text, sample_idx)), 20)
            as pair_id,
        *,
    from exported
    qualify row_number() over (partition by pair_id order by loaded_at desc, line_no desc) = 1
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
    from latest
)

select * from final
