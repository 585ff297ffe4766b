-- Pair x axis judge under the anchored protocol (warehouse/judge_schema.py): each pole judged
-- against the no-persona baseline, the pole first (forward: A = pole) and second (reverse: B = pole).
-- A rating r (1-5, 3 = tied) signs as r - 3 towards A, so
--   delta_pos_vs_base = ((pos_base_forward - 3) - (pos_base_reverse - 3)) / 2   (-2..2)
--   delta_base_vs_neg = ((neg_base_forward - 3) - (neg_base_reverse - 3)) / 2   (-2..2; > 0: the
--                        negative answer shows the negative target more than the baseline does)
--   axis_delta        = 2 * (delta_pos_vs_base + delta_base_vs_neg)             (-8..8)
-- A bounded-thinking call whose `found` is false never committed to a SCORE: it rated 3.0 (a tie
-- that is no verdict) and the judge is flagged (judge_did_not_commit), never silently counted.
with calls as (
    select
        pair_id,
        judge_model,
        prompt_hash,
        {%- for criterion in anchored_criteria() %}
        any_value((output ->> 'A_more_target_than_B')::double - 3)
            filter (where criterion = '{{ criterion }}' and not is_error) as {{ criterion }}_signed,
        {%- endfor %}
        count(*) filter (where not is_error and (output ->> 'found')::boolean = false) as n_calls_not_committed,
        count(*) filter (where not is_error and json_exists(output, '$.found')) as n_bounded_calls,
        string_agg(criterion || ': ' || coalesce(error, 'no output'), '; ' order by criterion)
            filter (where is_error) as judge_error,
    from {{ ref('stg_raw__judgments') }}
    where list_contains({{ sql_text_list(anchored_criteria()) }}, criterion)
    group by pair_id, judge_model, prompt_hash
),

final as (
    select
        *,
        judge_error is null
            {%- for criterion in anchored_criteria() %} and {{ criterion }}_signed is not null{% endfor %}
            as is_complete,
        (pos_base_forward_signed - pos_base_reverse_signed) / 2 as delta_pos_vs_base,
        (neg_base_forward_signed - neg_base_reverse_signed) / 2 as delta_base_vs_neg,
        n_calls_not_committed > 0 as judge_did_not_commit,
        case when n_bounded_calls > 0 then 'bounded_thinking' else 'json' end as axis_judge_method,
    from calls
)

select
    *,
    2 * (delta_pos_vs_base + delta_base_vs_neg) as axis_delta,
from final
