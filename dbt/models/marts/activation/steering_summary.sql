-- One row per steering setting: vector (cell x layer x model) x positions x coefficient.
-- What the sweep did to the projection, the length and the style, the judges' trait and
-- coherence (per generation from steered_outputs: the newest rubric's scores) and AxBench score;
-- per sweep (vector x positions, repeated on its coefficients) the steerability slope and the
-- held-out best coefficient.
with outputs as (
    select * from {{ ref('steered_outputs') }}
),

-- steerability (Tan et al. 2024): per scenario of a sweep, the least-squares slope of the judged
-- trait against the coefficient; a scenario whose slope is below 0 is anti-steerable
scenario_slopes as (
    select
        vector_id,
        positions,
        scenario_id,
        scenario_text,
        regr_slope(trait_score, coeff) as trait_slope,
    from outputs
    where trait_score is not null
    group by all
    having count(distinct coeff) >= 2
),

steerability as (
    select
        vector_id,
        positions,
        count(*) as n_scenarios_sloped,
        avg(trait_slope) as steerability_slope,
        stddev_samp(trait_slope) as steerability_slope_sd,
        avg(case when trait_slope < 0 then 1.0 else 0.0 end) as anti_steerable_frac,
    from scenario_slopes
    group by all
),

-- AxBench's held-out coefficient: the scenarios with AxBench scores split in two halves (by the md5
-- of scenario id | text); the coefficient is chosen on the first and its score reported on the second
scored_scenarios as (
    select distinct vector_id, positions, scenario_id, scenario_text,
    from outputs
    where axbench_score is not null
),

scenario_halves as (
    select
        *,
        ntile(2) over (
            partition by vector_id, positions
            order by md5(coalesce(scenario_id, '') || '|' || scenario_text)) as half,
    from scored_scenarios
),

half_scores as (
    select
        outputs.vector_id,
        outputs.positions,
        scenario_halves.half,
        outputs.coeff,
        avg(outputs.axbench_score) as mean_axbench_score,
    from outputs
    inner join scenario_halves
        on scenario_halves.vector_id = outputs.vector_id
        and scenario_halves.positions = outputs.positions
        and scenario_halves.scenario_id is not distinct from outputs.scenario_id
        and scenario_halves.scenario_text = outputs.scenario_text
    where outputs.axbench_score is not null
    group by all
),

-- ties go to the smaller |coeff|, then the smaller coeff
chosen as (
    select vector_id, positions, coeff as best_coefficient_heldout,
    from half_scores
    where half = 1
    qualify row_number() over (
        partition by vector_id, positions order by mean_axbench_score desc, abs(coeff), coeff) = 1
),

heldout as (
    select
        chosen.vector_id,
        chosen.positions,
        chosen.best_coefficient_heldout,
        half_scores.mean_axbench_score as heldout_axbench_score,
    from chosen
    left join half_scores
        on half_scores.vector_id = chosen.vector_id
        and half_scores.positions = chosen.positions
        and half_scores.half = 2
        and half_scores.coeff = chosen.best_coefficient_heldout
),

per_coeff as (
    select
        -- ids
        md5(vector_id || '|' || positions || '|' || coeff::varchar) as steering_setting_id,
        vector_id,
        cell_id,
        model_id,
        -- the setting
        layer,
        positions,
        coeff,
        -- what came out
        count(*) as n_generations,
        avg(projection) as mean_projection,
        stddev_samp(projection) as std_projection,
        avg(n_tokens) as mean_tokens,
        avg(n_words) as mean_words,
        -- judged
        count(*) filter (where trait_score is not null or coherence_score is not null) as n_judged,
        avg(trait_score) as mean_trait_score,
        avg(coherence_score) as mean_coherence_score,
        count(*) filter (where is_coherent) as n_coherent,
        count(*) filter (where is_coherent) / nullif(count(coherence_score), 0) as coherent_rate,
        avg(trait_score) filter (where is_coherent) as mean_trait_score_coherent,
        string_agg(distinct trait_rubric_hash, ',' order by trait_rubric_hash) as trait_rubric_hash,
        string_agg(distinct coherence_rubric_hash, ',' order by coherence_rubric_hash) as coherence_rubric_hash,
        -- AxBench (0-2 ratings; the score is their harmonic mean, 0 when any is 0)
        count(axbench_score) as n_axbench,
        avg(axbench_score) as mean_axbench_score,
        avg(concept_score) as mean_concept_score,
        avg(instruction_score) as mean_instruction_score,
        avg(fluency_score) as mean_fluency_score,
        -- the coefficient relative to the layer's mean residual norm
        avg(coef_rel_norm) as coef_rel_norm,
        avg(layer_residual_norm) as layer_residual_norm,
        -- drift from the unsteered baseline (generations that have one)
        count(*) filter (where has_baseline) as n_with_baseline,
        avg(tokens_delta_vs_baseline) as mean_tokens_delta_vs_baseline,
        avg(words_delta_vs_baseline) as mean_words_delta_vs_baseline,
        avg(words_per_sentence) as mean_words_per_sentence,
        avg(words_per_sentence_delta_vs_baseline) as mean_words_per_sentence_delta_vs_baseline,
        avg(exclamations_per_100_words) as mean_exclamations_per_100_words,
        avg(exclamations_per_100_words_delta_vs_baseline) as mean_exclamations_per_100_words_delta_vs_baseline,
        avg(questions_per_100_words) as mean_questions_per_100_words,
        avg(questions_per_100_words_delta_vs_baseline) as mean_questions_per_100_words_delta_vs_baseline,
        avg(first_person_per_100_words) as mean_first_person_per_100_words,
        avg(first_person_per_100_words_delta_vs_baseline) as mean_first_person_per_100_words_delta_vs_baseline,
        avg(n_list_lines) as mean_list_lines,
        avg(list_lines_delta_vs_baseline) as mean_list_lines_delta_vs_baseline,
        avg(repeated_token_frac) as mean_repeated_token_frac,
        avg(repeated_token_frac_delta_vs_baseline) as mean_repeated_token_frac_delta_vs_baseline,
    from outputs
    group by vector_id, cell_id, model_id, layer, positions, coeff
),

final as (
    select
        per_coeff.*,
        -- the sweep's (same on each of its coefficients)
        steerability.n_scenarios_sloped,
        steerability.steerability_slope,
        steerability.steerability_slope_sd,
        steerability.anti_steerable_frac,
        heldout.best_coefficient_heldout,
        heldout.heldout_axbench_score,
    from per_coeff
    left join steerability using (vector_id, positions)
    left join heldout using (vector_id, positions)
)

select * from final
