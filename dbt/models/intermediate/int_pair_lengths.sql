{{ config(materialized='incremental', unique_key='pair_id') }}
-- Words ([A-Za-z']+ matches) and characters of each completion. Incremental: a pair's
-- completions never change, so only pairs new since the last build are counted.
with pairs as (
    select pair_id, pos_response, neg_response
    from {{ ref('int_pairs_measured') }}
    {% if is_incremental() %}
    where pair_id not in (select pair_id from {{ this }})
    {% endif %}
)

select
    pair_id,
    {{ word_count('pos_response') }} as pos_words,
    {{ word_count('neg_response') }} as neg_words,
    length(coalesce(pos_response, '')) as pos_chars,
    length(coalesce(neg_response, '')) as neg_chars,
from pairs
