-- Off-axis category Likerts (1-7) per pair x judge x category, from the confound calls of the
-- judges whose confound counts for the pair: every `<category>_likert` the call rates besides
-- the overall off_axis_problem_likert (pilot-era calls rate none).
with judges as (
    select pair_id, judge_model, prompt_hash, confound
    from {{ ref('int_judgments_unblinded') }}
    where is_style_confound_judge
),

categories as (
    select
        pair_id,
        judge_model,
        prompt_hash,
        confound,
        key,
    from judges, unnest(json_keys(confound)) as keys(key)
    where key like '%\_likert' escape '\'
      and key <> 'off_axis_problem_likert'
)

select
    pair_id,
    judge_model,
    prompt_hash,
    left(key, length(key) - length('_likert')) as off_axis_category,
    (confound ->> key)::double as likert,
from categories
