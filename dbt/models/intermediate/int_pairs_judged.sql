-- Pairs from run artifacts and `psw collect`. Axis metrics are averaged over the axis judges
-- whose calls all parsed (pilot protocol: the four calls of one judge; order-swapped protocol:
-- the forward and reverse calls, int_judge_axis_orders; anchored protocol: each pole against the
-- baseline, int_anchored_judge_axis), with their spread and disagreement;
-- style and confound over the judges that gave them; plus the cheap lexical checks. A flag is
-- the judge's or a phrase hit (combined), as upstream's strict gate reads it.
with pairs as (
    select * from {{ ref('stg_raw__pairs') }}
),

judges as not materialized (  -- read three times: recomputing a plain read is cheaper than a copy
    select * from {{ ref('int_judgments_unblinded') }}
),

order_judges as not materialized (
    select * from {{ ref('int_judge_axis_orders') }}
),

axis_judges as (
    select pair_id, judge_model, axis_delta, positive_delta, negative_delta, pairwise_positive_delta,
        pairwise_negative_delta, null::double as axis_order_disagreement,
    from judges
    where is_complete and not is_order_swapped
    union all
    -- order-swapped judges give pairwise ratings only: those are the pair's positive and negative deltas
    select pair_id, judge_model, axis_delta, pairwise_positive_delta, pairwise_negative_delta, pairwise_positive_delta,
        pairwise_negative_delta, axis_order_disagreement,
    from order_judges
    where is_complete
    union all
    -- anchored judges (each pole against the baseline): their axis_delta only; the sides are in int_anchored_pairs
    select pair_id, judge_model, axis_delta, null, null, null, null, null,
    from {{ ref('int_anchored_judge_axis') }}
    where is_complete
),

over_axis_judges as (
    select
        pair_id,
        count(*) as n_judges,
        list(judge_model order by judge_model) as judge_models,
        map(list(judge_model order by judge_model), list(axis_delta order by judge_model)) as axis_delta_by_judge,
        avg(axis_delta) as axis_delta,
        stddev_pop(axis_delta) as axis_delta_judge_std,
        avg(positive_delta) as positive_delta,
        avg(negative_delta) as negative_delta,
        avg(pairwise_positive_delta) as pairwise_positive_delta,
        avg(pairwise_negative_delta) as pairwise_negative_delta,
        avg(axis_order_disagreement) as axis_order_disagreement,
    from axis_judges
    group by pair_id
),

disagreement as (
    -- sum over ordered judge pairs |a - b| / k^2, from the sorted values: 2 sum_i (2i - k - 1) x_(i) / k^2
    select pair_id, 2.0 * sum((2 * rank_in_pair - n - 1) * axis_delta) / (any_value(n) * any_value(n))
        as axis_judge_mean_abs_disagreement,
    from (
        select pair_id, axis_delta,
            row_number() over (partition by pair_id order by axis_delta) as rank_in_pair,
            count(*) over (partition by pair_id) as n,
        from axis_judges
    )
    group by pair_id
),

style_max as (
    select pair_id, judge_model, prompt_hash, max(abs(style_delta)) as max_style_abs_delta,
    from {{ ref('int_judgment_style_deltas') }}
    group by all
),

off_axis_max as (
    select pair_id, judge_model, prompt_hash, max(likert) as max_off_axis_category_likert,
    from {{ ref('int_judgment_off_axis_likerts') }}
    group by all
),

over_style_judges as (
    select
        judges.pair_id,
        avg(judges.off_axis_problem) as off_axis_problem,
        avg(style_max.max_style_abs_delta) as max_style_abs_delta,
        avg(off_axis_max.max_off_axis_category_likert) as max_off_axis_category_likert,
        bool_and(judges.is_usable_for_training) as is_usable_for_training,
        bool_or(judges.has_persona_echo) as has_judge_persona_echo,
        bool_or(judges.has_refusal_or_ai_break) as has_judge_refusal_or_ai_break,
        string_agg(distinct judges.likely_spurious_axis, '; ') as likely_spurious_axis,
    from judges
    left join style_max using (pair_id, judge_model, prompt_hash)
    left join off_axis_max using (pair_id, judge_model, prompt_hash)
    where judges.is_style_confound_judge
    group by judges.pair_id
),

{%- for name, model, key, value in [
    ('style_by_pair', 'int_judgment_style_deltas', 'style_dim', 'style_delta'),
    ('off_axis_by_pair', 'int_judgment_off_axis_likerts', 'off_axis_category', 'likert')] %}

{{ name }} as (
    select pair_id, map(list({{ key }} order by {{ key }}), list({{ value }} order by {{ key }})) as map_value,
    from (
        select pair_id, {{ key }}, avg({{ value }}) as {{ value }},
        from {{ ref(model) }}
        group by pair_id, {{ key }}
    )
    group by pair_id
),
{%- endfor %}

failed_judges as (
    select pair_id, string_agg(judge_model || ' (' || judge_error || ')', '; ') as judge_error,
    from (
        select pair_id, judge_model, judge_error from judges
        where not (is_complete or (is_order_swapped and judge_error is null))
        union all
        select pair_id, judge_model, judge_error from order_judges
        where not is_complete
        union all
        select pair_id, judge_model, coalesce(judge_error, 'an anchored call is missing')
        from {{ ref('int_anchored_judge_axis') }}
        where not is_complete
    )
    group by pair_id
),

final as (
    select
        pairs.pair_id,
        {{ cell_id('pairs.measurement_id', 'pairs.template_text', 'pairs.persona_pair_id') }} as cell_id,
        {{ template_id('pairs.template_text') }} as template_id,
        pairs.measurement_id,
        pairs.template_text,
        pairs.persona_pair_id,
        pairs.scenario_id,
        pairs.scenario_text,
        pairs.sample_idx,
        pairs.source_run,
        pairs.row_idx,
        pairs.pos_persona,
        pairs.neg_persona,
        pairs.pos_prompt,
        pairs.neg_prompt,
        pairs.pos_messages,
        pairs.neg_messages,
        pairs.pos_response,
        pairs.neg_response,
        pairs.base_prompt,
        pairs.base_response,
        coalesce(pairs.error, case when over_axis_judges.pair_id is null or over_style_judges.pair_id is null
            then coalesce(failed_judges.judge_error, 'not judged') end) as error,
        pairs.is_generation_error or over_axis_judges.pair_id is null or over_style_judges.pair_id is null
            as is_error,
        over_axis_judges.* exclude (pair_id),
        disagreement.axis_judge_mean_abs_disagreement,
        over_style_judges.* exclude (pair_id, has_judge_persona_echo, has_judge_refusal_or_ai_break),
        style_by_pair.map_value as style_deltas,
        off_axis_by_pair.map_value as off_axis_likerts,
        lexical.* exclude (pair_id),
        over_style_judges.has_judge_persona_echo,
        over_style_judges.has_judge_refusal_or_ai_break,
        -- combined flags: the style judge's, or a phrase hit on either side
        over_style_judges.has_judge_persona_echo
            or len(lexical.pos_persona_echo_hits) > 0 or len(lexical.neg_persona_echo_hits) > 0 as has_persona_echo,
        over_style_judges.has_judge_refusal_or_ai_break
            or len(lexical.pos_refusal_phrase_hits) > 0 or len(lexical.neg_refusal_phrase_hits) > 0
            as has_refusal_or_ai_break,
        {{ word_count('pairs.pos_response') }} as pos_words,
        {{ word_count('pairs.neg_response') }} as neg_words,
        length(coalesce(pairs.pos_response, '')) as pos_chars,
        length(coalesce(pairs.neg_response, '')) as neg_chars,
        failed_judges.judge_error as partial_judge_error,
        null::boolean as exported_is_strict_pass,
        null::double as exported_word_delta_frac,
        null::varchar as exported_axis_judgments,
        'judged' as metrics_origin,
        pairs.loaded_at,
    from pairs
    left join over_axis_judges using (pair_id)
    left join disagreement using (pair_id)
    left join over_style_judges using (pair_id)
    left join failed_judges using (pair_id)
    left join style_by_pair using (pair_id)
    left join off_axis_by_pair using (pair_id)
    left join {{ ref('int_pair_lexical_checks') }} as lexical using (pair_id)
)

select * from final
