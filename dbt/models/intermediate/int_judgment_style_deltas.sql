-- Style deltas (pos - neg) per pair x judge x dimension, from the raw style calls of the
-- judges whose style counts for the pair. The dimensions are the ones each call rates.
with judges as (
    select pair_id, judge_model, prompt_hash, pos_label, style
    from {{ ref('int_judgments_unblinded') }}
    where is_style_confound_judge
),

dims as (
    select
        pair_id,
        judge_model,
        prompt_hash,
        pos_label,
        style,
        left(key, length(key) - 2) as style_dim,
    from judges, unnest(json_keys(style)) as keys(key)
    where key like '%\_A' escape '\'
      and key not in ('persona_echo_A', 'refusal_or_ai_break_A')
)

select
    pair_id,
    judge_model,
    prompt_hash,
    style_dim,
    (style ->> (style_dim || case when pos_label = 'A' then '_A' else '_B' end))::double
    - (style ->> (style_dim || case when pos_label = 'A' then '_B' else '_A' end))::double as style_delta,
from dims
