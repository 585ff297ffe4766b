-- Every measured pair in one shape: derived from raw judge objects where a run carries
-- them, taken from the exported per-pair metrics otherwise.
with judged as (
    select * from {{ ref('int_pairs_judged') }}
),

exported as (
    select
        md5(concat_ws('|', measurement_id, template_text, persona_pair_id, scenario_text, sample_idx))
            as pair_key,
        *,
    from {{ ref('stg_raw__exported_pairs') }}
),

exported_pairs as (
    select
        'pr_' || left(pair_key, 20) as pair_id,
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
        null::map(varchar, double) as axis_delta_by_judge,
        axis_delta,
        axis_delta_judge_std,
        positive_delta,
        negative_delta,
        pairwise_positive_delta,
        pairwise_negative_delta,
        off_axis_problem,
        max_style_abs_delta,
        is_usable_for_training,
        has_persona_echo,
        has_refusal_or_ai_break,
        likely_spurious_axis,
        axis_judge_mean_abs_disagreement,
        null::varchar as partial_judge_error,
        is_strict_pass as exported_is_strict_pass,
        word_delta_frac as exported_word_delta_frac,
        'exported' as metrics_origin,
        record_id as exported_record_id,
    from exported
    -- the same pair exported twice into one measurement counts once (the latest line)
    qualify row_number() over (partition by pair_key order by loaded_at desc, line_no desc) = 1
)

select * from judged
union all by name
select * from exported_pairs
