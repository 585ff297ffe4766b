{{ incremental_by_measurement() }}
-- Pairs of anchored measurements (int_measurement_protocols) with the anchored protocol's metrics,
-- as upstream's validate_persona_axes.py defines them (README.md, "The anchored protocol"):
--   delta_pos_vs_base, delta_base_vs_neg: means over the complete axis judges (int_anchored_judge_axis;
--     an anchored export's judge objects are read the same way)
--   min_side_delta = least(delta_pos_vs_base, delta_base_vs_neg): the weaker side against the baseline
--   off_axis_problem_likert_gate: the worst off-axis category outside the run's exclude_confound_dims,
--     or the confound judge's overall Likert when nothing is excluded
--   judge_did_not_commit: some bounded-thinking call never committed to a SCORE
--   is_length_ok: upstream's length gate, |word_delta_frac| <= max_word_delta_frac (always, when that is 0)
--   is_strict_pass: axis_delta, min_side_delta, the gate and the length gate within the run's
--     thresholds, usable, style <= 2, no echo, no refusal and a committed judge
--   overall_score = 4*min_side_delta - gate - max_style_abs_delta - 3*echo - 3*refusal - 3*judge_did_not_commit
-- Upstream's own values of these (artifact extra / export record) sit beside ours as published_*.
-- Incremental by measurement (macros/incremental.sql): every read below is limited to the anchored
-- measurements this build recomputes; a read filtered by `protocols` names them as constants too, so
-- DuckDB reads those measurements' rows only (a subquery alone read every stored pair and record:
-- 0.17-0.25 s of a 64-pair run added to 1M pairs).
with protocols as (
    select * from {{ ref('int_measurement_protocols') }}
    where protocol = 'anchored' and {{ measurements_to_build() }}
),

scored as (
    select scored.* replace ({{ measurement_version('scored.measurement_id') }} as measurement_version),
        protocols.* exclude (measurement_id, protocol, measurement_version),
    from {{ ref('int_pairs_scored') }} as scored
    join protocols using (measurement_id)
),

exported_calls as (
    -- an anchored export keeps its judges' objects in axis_judgments: the same four ratings per judge
    select pair_id, judge.judge_model,
        {%- for criterion in anchored_criteria() %}
        (judge.{{ criterion }}_judgment ->> 'A_more_target_than_B')::double - 3 as {{ criterion }}_signed,
        {%- endfor %}
        coalesce(({%- for criterion in anchored_criteria() %}(judge.{{ criterion }}_judgment ->> 'found')::boolean = false
            {{- ' or ' if not loop.last }}{% endfor %}), false) as judge_did_not_commit,
    from (
        select pair_id, unnest(json_transform(exported_axis_judgments::json, '["JSON"]')) as judge_json,
        from {{ ref('int_pairs_measured') }}
        where exported_axis_judgments is not null and measurement_id in (select measurement_id from protocols) and {{ measurements_to_build() }}
    ), lateral (select {
        'judge_model': judge_json ->> 'judge_model',
        {%- for criterion in anchored_criteria() %}
        '{{ criterion }}_judgment': judge_json -> '{{ criterion }}_judgment',
        {%- endfor %}
    } as judge)
),

judges as (
    select pair_id, judge_model, delta_pos_vs_base, delta_base_vs_neg, judge_did_not_commit, axis_judge_method,
    from {{ ref('int_anchored_judge_axis') }}
    where is_complete and pair_id in (select pair_id from scored)
    union all
    select pair_id, judge_model,
        (pos_base_forward_signed - pos_base_reverse_signed) / 2,
        (neg_base_forward_signed - neg_base_reverse_signed) / 2,
        judge_did_not_commit, null,
    from exported_calls
    where pos_base_forward_signed is not null and pos_base_reverse_signed is not null
        and neg_base_forward_signed is not null and neg_base_reverse_signed is not null
),

over_judges as (
    select pair_id, avg(delta_pos_vs_base) as delta_pos_vs_base, avg(delta_base_vs_neg) as delta_base_vs_neg,
        bool_or(judge_did_not_commit) as judge_did_not_commit, max(axis_judge_method) as axis_judge_method,
    from judges
    group by pair_id
),

published as (
    -- what upstream wrote for the same pair: an artifact's result (raw.pairs.extra) or an export's record
    select pair_id, extra as published from {{ ref('stg_raw__pairs') }}
    where measurement_id in (select measurement_id from protocols) and {{ measurements_to_build() }}
    union all
    select pair_id, record from {{ ref('stg_raw__exported_pairs') }}
    where measurement_id in (select measurement_id from protocols) and {{ measurements_to_build() }}
),

sided as (
    select
        scored.*,
        over_judges.delta_pos_vs_base,
        over_judges.delta_base_vs_neg,
        least(over_judges.delta_pos_vs_base, over_judges.delta_base_vs_neg) as min_side_delta,
        case when len(scored.exclude_confound_dims) > 0 then coalesce(list_max(list_transform(
                list_filter(map_entries(scored.off_axis_likerts), lambda entry: not list_contains(scored.exclude_confound_dims, entry.key)),
                lambda entry: entry.value)), 1.0)
             else scored.off_axis_problem end as off_axis_problem_likert_gate,
        coalesce(over_judges.judge_did_not_commit, false) as judge_did_not_commit,
        over_judges.axis_judge_method as judged_method,
        -- upstream's length gate (length_ok): off when the run's max_word_delta_frac is 0
        scored.max_word_delta_frac <= 0 or abs(scored.word_delta_frac) <= scored.max_word_delta_frac as is_length_ok,
    from scored
    left join over_judges using (pair_id)
),

final as (
    select
        sided.* exclude (is_strict_pass, judged_method),
        sided.is_strict_pass as is_guide_strict_pass,
        case when not sided.is_error then
            sided.axis_delta >= sided.axis_delta_threshold
            and sided.min_side_delta >= sided.min_side_threshold
            and sided.off_axis_problem_likert_gate <= sided.off_axis_threshold
            and coalesce(sided.is_usable_for_training, false)
            and sided.max_style_abs_delta <= {{ var('strict_max_style_abs_delta') }}
            and sided.is_length_ok
            and not coalesce(sided.has_persona_echo, false)
            and not coalesce(sided.has_refusal_or_ai_break, false)
            and not sided.judge_did_not_commit
        end as is_strict_pass,
        case when not sided.is_error then
            4.0 * sided.min_side_delta - sided.off_axis_problem_likert_gate - sided.max_style_abs_delta
            - 3.0 * coalesce(sided.has_persona_echo, false)::int - 3.0 * coalesce(sided.has_refusal_or_ai_break, false)::int
            - 3.0 * sided.judge_did_not_commit::int
        end as overall_score,
        (published.published ->> 'delta_pos_vs_base')::double as published_delta_pos_vs_base,
        (published.published ->> 'delta_base_vs_neg')::double as published_delta_base_vs_neg,
        (published.published ->> 'min_side_delta')::double as published_min_side_delta,
        (published.published ->> 'off_axis_problem_likert_gate')::double as published_off_axis_problem_likert_gate,
        (published.published ->> 'overall_score')::double as published_overall_score,
        (published.published ->> 'strict_pass')::boolean as published_strict_pass,
        (published.published ->> 'judge_did_not_commit')::boolean as published_judge_did_not_commit,
        coalesce(published.published ->> 'axis_judge_method', sided.judged_method) as axis_judge_method,
        (published.published ->> 'control_pair')::boolean as is_control_pair,
    from sided
    left join published using (pair_id)
)

select * from final
