-- One row per steering sweep generation: the setting, the scenario, the text, the judges' trait and
-- coherence (newest rubric), cheap lexical style measures, and each measure's change from the same
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
    from scores
    group by generation_id
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
    left join judged using (generation_id)
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
