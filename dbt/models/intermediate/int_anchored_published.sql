-- Upstream's per-pair anchored numbers beside ours, in published_comparison's shape (level 'pair'):
-- an anchored artifact or export states its own deltas, gate, overall_score, strict_pass and
-- judge_did_not_commit; dbt derives them again (int_anchored_pairs) and says where they differ.
with pairs as (
    select * from {{ ref('int_anchored_pairs') }}
    where not is_error
),

numbers as (
    {%- for column in ['delta_pos_vs_base', 'delta_base_vs_neg', 'min_side_delta', 'off_axis_problem_likert_gate',
                       'overall_score'] %}
    select pair_id, measurement_id, template_text, persona_pair_id, '{{ column }}' as column_name,
        published_{{ column }} as published_value, {{ column }} as our_value, null::boolean as published_flag,
        null::boolean as our_flag,
    from pairs
    union all
    {%- endfor %}
    {%- for column, ours in [('strict_pass', 'is_strict_pass'), ('judge_did_not_commit', 'judge_did_not_commit')] %}
    select pair_id, measurement_id, template_text, persona_pair_id, '{{ column }}', null, null,
        published_{{ column }}, {{ ours }},
    from pairs
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

final as (
    select
        pair_id as record_id,
        measurement_id,
        'pair' as level,
        template_text,
        persona_pair_id,
        column_name,
        coalesce(published_value::varchar, published_flag::varchar) as published,
        coalesce(our_value::varchar, our_flag::varchar) as ours,
        published_value,
        our_value,
        our_value - published_value as difference,
        case
            when published_value is null and published_flag is null then 'not_published'
            when our_value is null and our_flag is null then 'not_derivable'
            when abs(our_value - published_value) <= {{ var('published_tolerance') }} then 'match'
            when published_flag = our_flag then 'match'
            else 'differs'
        end as status,
    from numbers
)

select * from final
