-- Every raw judge call of a pair, as a list (with reasons inside each output JSON).
with judgments as (
    select * from {{ ref('stg_raw__judgments') }}
),

pairs as (
    select pair_id, cell_id from {{ ref('int_pairs_judged') }}
)

select
    pairs.cell_id,
    judgments.pair_id,
    list({
        'judge_model': judgments.judge_model,
        'criterion': judgments.criterion,
        'prompt_hash': judgments.prompt_hash,
        'pos_label': judgments.pos_label,
        'output': judgments.output::varchar,
        'raw_text': judgments.raw_text,
        'error': judgments.error
    } order by judgments.judge_model, judgments.criterion) as ratings,
from judgments
join pairs using (pair_id)
group by all
