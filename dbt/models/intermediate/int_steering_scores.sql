-- Per steering generation x criterion (trait, coherence): the judges' mean score under the newest
-- rubric that scored it (the rubric of its newest usable judgment). An edited rubric is a new
-- rubric: its scores take the old ones' place here and are never averaged with them; raw keeps both.
with judgments as (
    select * from {{ ref('stg_activation__steering_judgments') }}
    where not is_error and score is not null
),

newest as (
    select
        generation_id,
        criterion,
        first(prompt_hash order by created_at desc, prompt_hash) as rubric_hash,
    from judgments
    group by generation_id, criterion
),

final as (
    select
        newest.generation_id,
        newest.criterion,
        newest.rubric_hash,
        avg(judgments.score) as score,
        count(*) as n_judgments,
    from newest
    inner join judgments
        on judgments.generation_id = newest.generation_id
        and judgments.criterion = newest.criterion
        and judgments.prompt_hash = newest.rubric_hash
    group by all
)

select * from final
