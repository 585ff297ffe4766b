-- One row per steering setting: vector (cell x layer x model) x positions x coefficient.
-- What the sweep did to the projection, the length and the style, and the judges' trait and
-- coherence (per generation from steered_outputs: the newest rubric's scores).
with outputs as (
    select * from {{ ref('steered_outputs') }}
),

final as (
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
)

select * from final
