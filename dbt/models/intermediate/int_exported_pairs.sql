{{ config(materialized='incremental', unique_key='pair_id', incremental_strategy='delete+insert',
          on_schema_change='sync_all_columns') }}
-- Pairs from exported examples files, parsed once: a build reads only the records loaded
-- since the last build. A later export of the same pair (same measurement, template,
-- persona pair, scenario, sample) replaces the earlier one. v3 exports carry more per-pair
-- numbers, read under upstream's names in one parse (macros/exported_v3.sql).
{%- set panels = judge_panels() %}
{#- a table built before the v3 columns existed is rebuilt whole (its rows lack them) -#}
{%- set stored = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list
    if is_incremental() else [] %}
with exported as (
    select *
    from {{ ref('stg_raw__exported_pairs') }}
    {% if 'exported_judge_axis' in stored %}
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

with_v3 as (
    select
        *,
        {{ exported_v3_fields('record', panels) }} as v3,
        json_transform(axis_judgments, '{{ exported_judge_axis_type() }}') as judge_axis,
    from latest
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
        pos_response,
        neg_response,
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
        {{ exported_v3_columns('v3', panels) }}
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
    from with_v3
)

select * from final
