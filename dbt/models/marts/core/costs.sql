-- Tokens and cost of the paid API calls per pair, per cell and per measurement (grain), so a
-- cell's cost can be read before scaling a sweep. The cost of a call is what the API reported
-- (usage.cost), else its tokens at the model_prices seed; calls with neither are counted apart.
-- A call answered from the cache costs nothing again: it is billed to the pair that paid.
with calls as (
    select * from {{ ref('stg_raw__api_calls') }}
),

prices as (
    select * from {{ ref('model_prices') }}
),

pairs as (
    select
        pair_id,
        measurement_id,
        {{ cell_id('measurement_id', 'template_text', 'persona_pair_id') }} as cell_id,
        template_text,
        persona_pair_id,
        generator_model,
    from {{ ref('stg_raw__pairs') }}
),

priced as (
    select
        calls.*,
        (calls.prompt_tokens * prices.prompt_usd_per_mtok
            + calls.completion_tokens * prices.completion_usd_per_mtok) / 1e6 as priced_cost,
        coalesce(calls.reported_cost, priced_cost) as cost,
        pairs.cell_id,
        pairs.template_text,
        pairs.persona_pair_id,
        pairs.generator_model,
    from calls
    left join prices using (model)
    left join pairs using (pair_id)
),

{%- set grains = [('pair', 'pair_id'), ('cell', 'cell_id'), ('measurement', 'measurement_id')] %}
{%- for grain, key in grains %}

per_{{ grain }} as (
    select
        {{ key }} as cost_id,
        '{{ grain }}' as grain,
        any_value(measurement_id) as measurement_id,
        {{ 'any_value(cell_id)' if grain != 'measurement' else 'null::varchar' }} as cell_id,
        {{ 'any_value(pair_id)' if grain == 'pair' else 'null::varchar' }} as pair_id,
        {{ 'any_value(template_text)' if grain != 'measurement' else 'null::varchar' }} as template_text,
        {{ 'any_value(persona_pair_id)' if grain != 'measurement' else 'null::varchar' }} as persona_pair_id,
        any_value(generator_model) as generator_model,
        count(*) as n_calls,
        count(*) filter (where call_kind = 'generation') as n_generation_calls,
        count(*) filter (where call_kind = 'judge') as n_judge_calls,
        sum(prompt_tokens) as prompt_tokens,
        sum(completion_tokens) as completion_tokens,
        sum(prompt_tokens + completion_tokens) as tokens,
        sum(reported_cost) as reported_cost,
        sum(priced_cost) filter (where reported_cost is null) as priced_cost,
        sum(cost) as cost,
        sum(cost) filter (where call_kind = 'generation') as generation_cost,
        sum(cost) filter (where call_kind = 'judge') as judge_cost,
        count(*) filter (where cost is null) as n_unpriced_calls,
    from priced
    where {{ key }} is not null
    group by {{ key }}
),
{%- endfor %}

pair_counts as (
    select 'cell' as grain, cell_id as cost_id, count(*) as n_pairs, from pairs group by cell_id
    union all
    select 'measurement', measurement_id, count(*), from pairs group by measurement_id
),

final as (
    select
        costs.*,
        coalesce(pair_counts.n_pairs, 1) as n_pairs,
        costs.cost / coalesce(pair_counts.n_pairs, 1) as cost_per_pair,
    from (
        {%- for grain, key in grains %}
        select * from per_{{ grain }} {{ 'union all' if not loop.last }}
        {%- endfor %}
    ) as costs
    left join pair_counts using (grain, cost_id)
)

select * from final
