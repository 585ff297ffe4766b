-- Per steering generation x criterion (trait, coherence): the judges' mean score under the newest
-- rubric that scored it (the rubric of its newest usable judgment). An edited rubric is a new
-- rubric: its scores take the old ones' place here and are never averaged with them; raw keeps both.
with judgments as (
    select * from {{ ref('stg_activation__steering_judgments') }}
    where not is_error and score is not null
),

final as (
    {{ newest_rubric_scores('judgments', ['generation_id']) }}
)

select * from final
