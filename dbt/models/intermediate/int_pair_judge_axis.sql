{{ config(materialized='view') }}
-- Pair x axis judge, from every source: the judge's axis_delta and pairwise deltas and, under
-- the order-swapped protocol, its forward and reverse deltas and their gaps (position bias).
-- Grouped by cell_id and judge_model it gives a judge's position bias in one cell.
with pairs as (
    select pair_id, cell_id, measurement_id, is_error, exported_judge_axis,
    from {{ ref('int_pairs_measured') }}
),

judged as (
    select pair_id, judge_model, prompt_hash, 'order_swapped' as judge_protocol,
        positive_forward_delta, positive_reverse_delta, negative_forward_delta, negative_reverse_delta,
        pairwise_positive_delta, pairwise_negative_delta, axis_delta,
        positive_order_disagreement, negative_order_disagreement, axis_order_disagreement,
    from {{ ref('int_judge_axis_orders') }}
    where is_complete
    union all by name
    select pair_id, judge_model, prompt_hash, 'pilot' as judge_protocol,
        pairwise_positive_delta, pairwise_negative_delta, axis_delta,
    from {{ ref('int_judgments_unblinded') }}
    where is_complete and not is_order_swapped
),

exported as (
    select
        pair_id,
        cell_id,
        measurement_id,
        is_error,
        judge.judge_model,
        null::varchar as prompt_hash,
        'order_swapped' as judge_protocol,
        judge.positive_forward_delta,
        judge.positive_reverse_delta,
        judge.negative_forward_delta,
        judge.negative_reverse_delta,
        judge.pairwise_positive_delta,
        judge.pairwise_negative_delta,
        judge.axis_delta,
        abs(judge.positive_forward_delta - judge.positive_reverse_delta) as positive_order_disagreement,
        abs(judge.negative_forward_delta - judge.negative_reverse_delta) as negative_order_disagreement,
        (abs(judge.positive_forward_delta - judge.positive_reverse_delta)
            + abs(judge.negative_forward_delta - judge.negative_reverse_delta)) / 2 as axis_order_disagreement,
    from pairs, unnest(pairs.exported_judge_axis) as judges(judge)
    where pairs.exported_judge_axis is not null
),

final as (
    select pairs.cell_id, pairs.measurement_id, pairs.is_error, judged.*,
    from judged
    join pairs using (pair_id)
    union all by name
    select * from exported
)

select * from final
