-- One row per steering sweep generation: the setting, the scenario, the text, the judges' trait and
-- coherence (newest rubric), AxBench's three ratings and their score, the coefficient relative to the
-- layer's residual norm, cheap lexical style measures, and each measure's change from the same
-- vector, positions and scenario at coefficient 0 (with the same generation settings), where one exists.
with generations as (
    select * from {{ ref('stg_activation__steering_generations') }}
),

scores as (
    select * from {{ ref('int_steering_scores') }}
),

judged as (
    select
        generation_id,
        any_value(score) filter (where criterion = 'trait') as trait_score,
        any_value(score) filter (where criterion = 'coherence') as coherence_score,
        any_value(rubric_hash) filter (where criterion = 'trait') as trait_rubric_hash,
        any_value(rubric_hash) filter (where criterion = 'coherence') as coherence_rubric_hash,
        any_value(score) filter (where criterion = 'concept') as concept_score,
        any_value(score) filter (where criterion = 'instruction') as instruction_score,
        any_value(score) filter (where criterion = 'fluency') as fluency_score,
    from scores
    group by generation_id
),

-- AxBench: the harmonic mean of the three 0-2 ratings, 0 when any of them is 0
axbench as (
    select
        *,
        case
            when concept_score is null or instruction_score is null or fluency_score is null then null
            when least(concept_score, instruction_score, fluency_score) = 0 then 0.0
            else 3.0 / (1.0 / concept_score + 1.0 / instruction_score + 1.0 / fluency_score)
        end as axbench_score,
    from judged
),

-- the layer's mean residual norm over the sweep's scenarios: a coefficient relative to it compares
-- across models and layers (|coeff * v| / mean |h|, signed like coeff)
scenario_norms as (
    select
        vector_id,
        positions,
        model_id,
        model_revision,
        scenario_id,
        scenario_text,
        avg(residual_norm) as scenario_residual_norm,
    from generations
    group by all
),

sweep_norms as (
    select
        vector_id,
        positions,
        model_id,
        model_revision,
        avg(scenario_residual_norm) as layer_residual_norm,
    from scenario_norms
    group by all
),

counted as (
    select
        *,
        {{ sentence_count('response_text') }} as n_sentences,
        {{ char_count('response_text', '!') }} as n_exclamations,
        {{ char_count('response_text', '?') }} as n_questions,
        {{ first_person_count('response_text') }} as n_first_person,
        {{ list_line_count('response_text') }} as n_list_lines,
        {{ repeated_token_frac(content_tokens('response_text')) }} as repeated_token_frac,
    from generations
),

styled as (
    select
        *,
        n_words / nullif(n_sentences, 0) as words_per_sentence,
        100.0 * n_exclamations / nullif(n_words, 0) as exclamations_per_100_words,
        100.0 * n_questions / nullif(n_words, 0) as questions_per_100_words,
        100.0 * n_first_person / nullif(n_words, 0) as first_person_per_100_words,
    from counted
),

baselines as (
    select * from styled
    where coeff = 0
    qualify row_number() over (
        partition by vector_id, positions, scenario_id, scenario_text, max_new_tokens, temperature, seed,
            model_id, model_revision
        order by created_at desc, generation_id) = 1
),

final as (
    select
        -- ids
        styled.generation_id,
        styled.vector_id,
        styled.cell_id,
        styled.model_id,
        styled.scenario_id,
        baselines.generation_id as baseline_generation_id,
        -- the setting
        styled.layer,
        styled.positions,
        styled.coeff,
        styled.max_new_tokens,
        styled.temperature,
        styled.seed,
        -- text
        styled.scenario_text,
        styled.response_text,
        -- judged
        judged.trait_score,
        judged.coherence_score,
        judged.coherence_score >= {{ var('steering_min_coherence') }} as is_coherent,
        judged.trait_rubric_hash,
        judged.coherence_rubric_hash,
        judged.concept_score,
        judged.instruction_score,
        judged.fluency_score,
        judged.axbench_score,
        -- the coefficient relative to the layer's residual norm
        styled.vector_norm,
        sweep_norms.layer_residual_norm,
        styled.coeff * styled.vector_norm / nullif(sweep_norms.layer_residual_norm, 0) as coef_rel_norm,
        styled.steering_backend,
        -- length and style
        styled.projection,
        styled.n_tokens,
        styled.n_words,
        styled.n_sentences,
        styled.words_per_sentence,
        styled.exclamations_per_100_words,
        styled.questions_per_100_words,
        styled.first_person_per_100_words,
        styled.n_list_lines,
        styled.repeated_token_frac,
        -- drift from the unsteered baseline
        baselines.generation_id is not null as has_baseline,
        styled.n_tokens - baselines.n_tokens as tokens_delta_vs_baseline,
        styled.n_words - baselines.n_words as words_delta_vs_baseline,
        styled.words_per_sentence - baselines.words_per_sentence as words_per_sentence_delta_vs_baseline,
        styled.exclamations_per_100_words - baselines.exclamations_per_100_words
            as exclamations_per_100_words_delta_vs_baseline,
        styled.questions_per_100_words - baselines.questions_per_100_words
            as questions_per_100_words_delta_vs_baseline,
        styled.first_person_per_100_words - baselines.first_person_per_100_words
            as first_person_per_100_words_delta_vs_baseline,
        styled.n_list_lines - baselines.n_list_lines as list_lines_delta_vs_baseline,
        styled.repeated_token_frac - baselines.repeated_token_frac as repeated_token_frac_delta_vs_baseline,
        -- timestamps
        styled.created_at,
    from styled
    left join axbench as judged using (generation_id)
    left join sweep_norms
        on sweep_norms.vector_id = styled.vector_id
        and sweep_norms.positions = styled.positions
        and sweep_norms.model_id = styled.model_id
        and sweep_norms.model_revision is not distinct from styled.model_revision
    left join baselines
        on baselines.vector_id = styled.vector_id
        and baselines.positions = styled.positions
        and baselines.scenario_id is not distinct from styled.scenario_id
        and baselines.scenario_text = styled.scenario_text
        and baselines.max_new_tokens = styled.max_new_tokens
        and baselines.temperature = styled.temperature
        and baselines.seed is not distinct from styled.seed
        and baselines.model_id = styled.model_id
        and baselines.model_revision is not distinct from styled.model_revision
)

select * from final
