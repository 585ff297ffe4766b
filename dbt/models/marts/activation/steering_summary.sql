-- One row per steering setting: vector (cell x layer x model) x positions x coefficient.
-- What the sweep did to the projection and the length, and the judges' trait and coherence.
with generations as (
    select * from {{ ref('stg_activation__steering_generations') }}
),

judgments as (
    select * from {{ ref('stg_activation__steering_judgments') }}
    where not is_error
),

scores as (
    select
        generation_id,
        avg(score) filter (where criterion = 'trait') as trait_score,
        avg(score) filter (where criterion = 'coherence') as coherence_score,
    from judgments
    group by generation_id
),

final as (
    select
        -- ids
        md5(generations.vector_id || '|' || generations.positions || '|' || generations.coeff::varchar)
            as steering_setting_id,
        generations.vector_id,
        generations.cell_id,
        generations.model_id,
        -- the setting
        generations.layer,
        generations.positions,
        generations.coeff,
        -- what came out
        count(*) as n_generations,
        avg(generations.projection) as mean_projection,
        stddev_samp(generations.projection) as std_projection,
        avg(generations.n_tokens) as mean_tokens,
        avg(generations.n_words) as mean_words,
        count(scores.generation_id) as n_judged,
        avg(scores.trait_score) as mean_trait_score,
        avg(scores.coherence_score) as mean_coherence_score,
    from generations
    left join scores using (generation_id)
    group by all
)

select * from final
