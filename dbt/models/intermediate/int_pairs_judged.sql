-- Pairs from run artifacts and `psw collect`: judge metrics averaged over the judges
-- whose four calls all parsed, with their spread and disagreement.
with pairs as (
    select * from {{ ref('stg_raw__pairs') }}
),

judges as not materialized (  -- read twice: recomputing a plain read is cheaper than a copy
    select * from {{ ref('int_judgments_unblinded') }}
),

style_max as (
    select pair_id, judge_model, prompt_hash, max(abs(style_delta)) as max_style_abs_delta,
    from {{ ref('int_judgment_style_deltas') }}
    group by all
),

complete as (
    select judges.*, style_max.max_style_abs_delta,
    from judges
    left join style_max using (pair_id, judge_model, prompt_hash)
    where judges.is_complete
),

over_judges as (
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
        avg(off_axis_problem) as off_axis_problem,
        avg(max_style_abs_delta) as max_style_abs_delta,
        bool_and(is_usable_for_training) as is_usable_for_training,
        bool_or(has_persona_echo) as has_persona_echo,
        bool_or(has_refusal_or_ai_break) as has_refusal_or_ai_break,
        string_agg(distinct likely_spurious_axis, '; ') as likely_spurious_axis,
    from complete
    group by pair_id
),

disagreement as (
    select complete.pair_id, avg(abs(complete.axis_delta - over_judges.axis_delta)) as axis_judge_mean_abs_disagreement,
    from complete
    join over_judges using (pair_id)
    group by complete.pair_id
),

style_by_pair as (
    select pair_id, map(list(style_dim order by style_dim), list(style_delta order by style_dim)) as style_deltas,
    from (
        select pair_id, style_dim, avg(style_delta) as style_delta,
        from {{ ref('int_judgment_style_deltas') }}
        group by pair_id, style_dim
    )
    group by pair_id
),

failed_judges as (
    select pair_id, string_agg(judge_model || ' (' || judge_error || ')', '; ') as judge_error,
    from judges
    where not is_complete
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
        coalesce(pairs.error, case when over_judges.pair_id is null
            then coalesce(failed_judges.judge_error, 'not judged') end) as error,
        pairs.is_generation_error or over_judges.pair_id is null as is_error,
        over_judges.* exclude (pair_id),
        disagreement.axis_judge_mean_abs_disagreement,
        style_by_pair.style_deltas,
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
    left join over_judges using (pair_id)
    left join disagreement using (pair_id)
    left join failed_judges using (pair_id)
    left join style_by_pair using (pair_id)
)

select * from final
