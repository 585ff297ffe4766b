-- One row per stored cell vector (cell x layer x token reduction x extraction run): how
-- consistent a direction the cell's pairs share in the target model, beside the judge score.
with vectors as (
    select * from {{ ref('stg_activation__vectors') }}
),

runs as (
    select * from {{ ref('stg_activation__runs') }}
),

pair_stats as (
    select * from {{ ref('stg_activation__pair_stats') }}
),

examples as (  -- the pairs' word_delta_frac, as `examples` shows it (its one row per scored pair); read
    -- from the narrow pair table, not through the view's joins of the texts: with no activations,
    -- DuckDB then stops after one chunk instead of joining every pair (0.26 s at 1M pairs)
    select pair_id, word_delta_frac, from {{ ref('int_pairs_scored') }}
),

cells as (
    select cell_id, score as judge_score, from {{ ref('template_pair_scores') }}
),

per_vector as (
    select
        pair_stats.vector_id,
        count(*) as n_pairs,
        avg(pair_stats.cosine_to_cell) as mean_cosine_to_cell,
        stddev_samp(pair_stats.cosine_to_cell) as std_cosine_to_cell,
        avg(case when pair_stats.projection_delta > 0 then 1.0 else 0.0 end) as positive_projection_share,
        avg(pair_stats.diff_norm) as mean_diff_norm,
        avg(pair_stats.pos_projection) as mean_pos_projection,
        avg(pair_stats.neg_projection) as mean_neg_projection,
        var_samp(pair_stats.pos_projection) as var_pos_projection,
        var_samp(pair_stats.neg_projection) as var_neg_projection,
        corr(pair_stats.projection_delta, examples.word_delta_frac) as projection_word_delta_corr,
    from pair_stats
    left join examples using (pair_id)
    group by pair_stats.vector_id
),

final as (
    select
        -- ids
        vectors.vector_id,
        vectors.cell_id,
        vectors.run_id,
        runs.measurement_id,
        runs.model_id,
        runs.model_revision,
        runs.chat_template_hash,
        -- where
        vectors.layer,
        vectors.reduction,
        runs.is_strict_only,
        -- the direction
        per_vector.n_pairs,
        vectors.vector_norm,
        per_vector.mean_diff_norm,
        per_vector.mean_cosine_to_cell,
        per_vector.std_cosine_to_cell,
        per_vector.positive_projection_share,
        -- separation of the poles along it
        per_vector.mean_pos_projection,
        per_vector.mean_neg_projection,
        (per_vector.mean_pos_projection - per_vector.mean_neg_projection)
            / nullif(sqrt((per_vector.var_pos_projection + per_vector.var_neg_projection) / 2), 0)
            as projection_d_prime,
        -- confound check and the judge's verdict beside it
        per_vector.projection_word_delta_corr,
        cells.judge_score,
        vectors.safetensors_path,
        vectors.created_at,
    from vectors
    inner join runs using (run_id)
    inner join per_vector using (vector_id)
    left join cells using (cell_id)
)

select * from final
