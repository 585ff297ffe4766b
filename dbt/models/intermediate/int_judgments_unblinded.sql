-- One row per pair x judge (model + prompt hash): the four blind calls side by side,
-- with A/B mapped back to the positive and negative completions via pos_label.
-- Pairs judged with the order-swapped protocol have their axis calls in int_judge_axis_orders;
-- here they keep their style and confound calls, which count without axis calls of the same judge.
with judgments as (
    select * from {{ ref('stg_raw__judgments') }}
    where criterion in ('positive_axis', 'negative_axis', 'style', 'confound')
),

order_swapped as (
    select distinct pair_id from {{ ref('stg_raw__judgments') }}
    -- the anchored protocol's style and confound calls count on their own too (int_anchored_judge_axis)
    where list_contains({{ sql_text_list(order_swapped_criteria() + anchored_criteria()) }}, criterion)
),

calls as (
    select
        pair_id,
        judge_model,
        prompt_hash,
        any_value(pos_label) as pos_label,
        any_value(output) filter (where criterion = 'positive_axis' and not is_error) as positive_axis,
        any_value(output) filter (where criterion = 'negative_axis' and not is_error) as negative_axis,
        any_value(output) filter (where criterion = 'style' and not is_error) as style,
        any_value(output) filter (where criterion = 'confound' and not is_error) as confound,
        string_agg(criterion || ': ' || coalesce(error, 'no output'), '; ' order by criterion)
            filter (where is_error) as judge_error,
    from judgments
    group by pair_id, judge_model, prompt_hash
),

unblinded as (
    select
        pair_id,
        judge_model,
        prompt_hash,
        pos_label,
        judge_error,
        positive_axis is not null and negative_axis is not null
            and style is not null and confound is not null as is_complete,
        pair_id in (select pair_id from order_swapped) as is_order_swapped,
        -- whether this judge's style and confound calls count for the pair: under the pilot protocol
        -- only with its own axis calls, under the order-swapped one on their own
        style is not null and confound is not null
            and (pair_id in (select pair_id from order_swapped) or (positive_axis is not null and negative_axis is not null))
            as is_style_confound_judge,
        -- target scores of each completion, read through the blinding
        (positive_axis ->> (case when pos_label = 'A' then 'target_score_A' else 'target_score_B' end))::double
            as pos_response_positive_score,
        (positive_axis ->> (case when pos_label = 'A' then 'target_score_B' else 'target_score_A' end))::double
            as neg_response_positive_score,
        (negative_axis ->> (case when pos_label = 'A' then 'target_score_A' else 'target_score_B' end))::double
            as pos_response_negative_score,
        (negative_axis ->> (case when pos_label = 'A' then 'target_score_B' else 'target_score_A' end))::double
            as neg_response_negative_score,
        -- pairwise ratings "the positive completion shows the target more than the negative one"
        (positive_axis ->> (case when pos_label = 'A' then 'A_more_target_than_B' else 'B_more_target_than_A' end))::double
            as pos_over_neg_on_positive,
        (negative_axis ->> (case when pos_label = 'A' then 'A_more_target_than_B' else 'B_more_target_than_A' end))::double
            as pos_over_neg_on_negative,
        positive_axis ->> 'target_reason' as positive_reason,
        negative_axis ->> 'target_reason' as negative_reason,
        (confound ->> 'off_axis_problem_likert')::double as off_axis_problem,
        confound ->> 'likely_spurious_axis' as likely_spurious_axis,
        (confound ->> 'usable_for_training')::boolean as is_usable_for_training,
        confound ->> 'confound_reason' as confound_reason,
        (style ->> 'persona_echo_A')::boolean or (style ->> 'persona_echo_B')::boolean as has_persona_echo,
        (style ->> 'refusal_or_ai_break_A')::boolean or (style ->> 'refusal_or_ai_break_B')::boolean
            as has_refusal_or_ai_break,
        style ->> 'style_reason' as style_reason,
        style,
        confound,
    from calls
),

final as (
    select
        *,
        pos_response_positive_score - neg_response_positive_score as positive_delta,
        neg_response_negative_score - pos_response_negative_score as negative_delta,
        pos_over_neg_on_positive - 3 as pairwise_positive_delta,
        -(pos_over_neg_on_negative - 3) as pairwise_negative_delta,
    from unblinded
)

select
    *,
    positive_delta + negative_delta as axis_delta,
from final
