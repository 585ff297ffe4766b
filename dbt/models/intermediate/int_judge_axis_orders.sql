-- Pair x axis judge (model + prompt hash) under the order-swapped protocol (v3_protocol.md):
-- each target asked forward (A = the A-labelled text) and reverse (the texts swapped), read
-- back through pos_label into deltas that favour the positive completion; the judge's pairwise
-- deltas average the two orders (a judge asked in one order only keeps its forward delta), its
-- axis_delta is 2 x their sum (-8..8), and the |forward - reverse| gaps are its position bias.
with calls as (
    select
        pair_id,
        judge_model,
        prompt_hash,
        any_value(pos_label) as pos_label,
        {%- for criterion in order_swapped_criteria() %}
        any_value((output ->> 'A_more_target_than_B')::double - 3)
            filter (where criterion = '{{ criterion }}' and not is_error) as {{ criterion }}_signed,
        {%- endfor %}
        string_agg(criterion || ': ' || coalesce(error, 'no output'), '; ' order by criterion)
            filter (where is_error) as judge_error,
    from {{ ref('stg_raw__judgments') }}
    where list_contains({{ sql_text_list(order_swapped_criteria()) }}, criterion)
    group by pair_id, judge_model, prompt_hash
),

deltas as (
    select
        pair_id,
        judge_model,
        prompt_hash,
        pos_label,
        judge_error,
        -- the forward call shows the positive completion under pos_label, the reverse call under the other label
        case when pos_label = 'A' then positive_axis_forward_signed else -positive_axis_forward_signed end
            as positive_forward_delta,
        case when pos_label = 'B' then positive_axis_reverse_signed else -positive_axis_reverse_signed end
            as positive_reverse_delta,
        -(case when pos_label = 'A' then negative_axis_forward_signed else -negative_axis_forward_signed end)
            as negative_forward_delta,
        -(case when pos_label = 'B' then negative_axis_reverse_signed else -negative_axis_reverse_signed end)
            as negative_reverse_delta,
    from calls
),

final as (
    select
        *,
        judge_error is null and positive_forward_delta is not null and negative_forward_delta is not null
            as is_complete,
        (positive_forward_delta + coalesce(positive_reverse_delta, positive_forward_delta)) / 2 as pairwise_positive_delta,
        (negative_forward_delta + coalesce(negative_reverse_delta, negative_forward_delta)) / 2 as pairwise_negative_delta,
        abs(positive_forward_delta - positive_reverse_delta) as positive_order_disagreement,
        abs(negative_forward_delta - negative_reverse_delta) as negative_order_disagreement,
    from deltas
)

select
    *,
    2 * (pairwise_positive_delta + pairwise_negative_delta) as axis_delta,
    (positive_order_disagreement + negative_order_disagreement) / 2 as axis_order_disagreement,
from final
