-- One row per pair whose own completions were judged (`psw extract judge --measurement M`): the
-- judges' mean trait and coherence score of each side under the newest rubric that scored it (as
-- int_steering_scores: scores under different rubrics are never averaged), and persona_vectors'
-- effective-pair rule: the positive completion shows the trait (>= effective_pair_min_trait), the
-- negative does not (< it), and both are coherent (>= effective_pair_min_coherence). Null where a
-- score is missing.
with judgments as (
    select * from {{ ref('stg_activation__pair_response_judgments') }}
    where not is_error and score is not null
),

scores as (  -- under the newest rubric, as int_steering_scores (macros/newest_rubric.sql)
    {{ newest_rubric_scores('judgments', ['pair_id', 'side']) }}
),

per_pair as (
    select
        pair_id,
        max(score) filter (where side = 'pos' and criterion = 'trait') as pos_trait_score,
        max(score) filter (where side = 'neg' and criterion = 'trait') as neg_trait_score,
        max(score) filter (where side = 'pos' and criterion = 'coherence') as pos_coherence_score,
        max(score) filter (where side = 'neg' and criterion = 'coherence') as neg_coherence_score,
        sum(n_judgments) as n_judgments,
    from scores
    group by pair_id
),

final as (
    select
        -- ids
        pair_id,
        -- the judges
        pos_trait_score,
        neg_trait_score,
        pos_coherence_score,
        neg_coherence_score,
        n_judgments,
        -- persona_vectors' rule; null until all four scores exist
        pos_trait_score >= {{ var('effective_pair_min_trait') }}
            and neg_trait_score < {{ var('effective_pair_min_trait') }}
            and pos_coherence_score >= {{ var('effective_pair_min_coherence') }}
            and neg_coherence_score >= {{ var('effective_pair_min_coherence') }} as is_effective_pair,
    from per_pair
)

select * from final
