-- One row per stored cell vector (cell x layer x token reduction x extraction run): how well the
-- layer's direction separates the completions the judges call positive from those they call
-- negative (d' and AUROC), how consistent the pairs' difference directions are, and, where the
-- vector was swept, the steering effect per unit of the normalised coefficient (coef_rel_norm) over
-- coherent generations, per position setting, with its interval over scenarios. Per (cell, run,
-- reduction) one layer is recommended, with its reason: the swept layer that separates and whose
-- steering effect has the highest lower bound above 0, else the layer that separates best.
with vectors as (
    select vector_id, run_id, cell_id, layer, reduction, n_pairs, vector_norm, created_at,
    from {{ ref('stg_activation__vectors') }}
),

runs as (
    select run_id, model_id, measurement_id, from {{ ref('stg_activation__runs') }}
),

screening as (
    select * from {{ ref('pair_screening') }}
),

steering as (
    select * from {{ ref('steering_summary') }}
),

outputs as (
    select * from {{ ref('steered_outputs') }}
),

completions as (
    -- each completion of a labelled pair, with the judges' label: the side they call positive is 1;
    -- projected on the vector without its pair (a pair's own difference pulls the in-sample vector
    -- its way: on pure noise, 4 pairs give AUROC 1.0 and d' 5-39)
    select vector_id, pos_heldout_projection as projection, judge_label = 'positive' as is_judged_positive,
    from screening where judge_label in ('positive', 'negative') and pos_heldout_projection is not null
    union all
    select vector_id, neg_heldout_projection as projection, judge_label = 'negative' as is_judged_positive,
    from screening where judge_label in ('positive', 'negative') and neg_heldout_projection is not null
),

ranked as (
    -- average ranks, so ties count one half in the AUROC
    select
        *,
        rank() over (partition by vector_id order by projection)
            + (count(*) over (partition by vector_id, projection) - 1) / 2.0 as projection_rank,
    from completions
),

separation as (
    select
        vector_id,
        count(*) filter (where is_judged_positive) as n_pos,
        count(*) filter (where not is_judged_positive) as n_neg,
        avg(projection) filter (where is_judged_positive) as mean_judged_positive_projection,
        avg(projection) filter (where not is_judged_positive) as mean_judged_negative_projection,
        var_samp(projection) filter (where is_judged_positive) as var_pos,
        var_samp(projection) filter (where not is_judged_positive) as var_neg,
        (sum(projection_rank) filter (where is_judged_positive) - n_pos * (n_pos + 1) / 2.0)
            / nullif(n_pos * n_neg, 0) as auroc,
    from ranked
    group by vector_id
),

per_vector as (
    select
        vector_id,
        count(*) filter (where judge_label in ('positive', 'negative')) as n_labelled_pairs,
        avg(diff_norm ^ 2) as mean_sq_diff_norm,
        avg(agreement_cosine) as mean_agreement_cosine,
        avg(case when agreement_cosine > 0 then 1.0 else 0.0 end) filter (where agreement_cosine is not null)
            as agreement_rate,
        count(*) filter (where is_flagged) as n_flagged,
        -- reliability predictors (Braun et al. 2025): every pair has the same n - 1 others, so the
        -- mean over pairs of each pair's mean cosine to the others is the mean over all pairs i != j
        count(cosine_to_others_mean) as n_cosine_pairs,
        avg(cosine_to_others_mean) as pair_cosine_mean,
        avg(cosine_sq_to_others_mean) as pair_cosine_sq_mean,
        -- the prompted poles along the vector held out of each pair, whatever the judges said
        avg(pos_heldout_projection) as mean_pos_heldout,
        avg(neg_heldout_projection) as mean_neg_heldout,
        var_samp(pos_heldout_projection) as var_pos_heldout,
        var_samp(neg_heldout_projection) as var_neg_heldout,
    from screening
    group by vector_id
),

scenario_effects as (
    -- per scenario of a sweep: the slope of the judged trait against coef_rel_norm (the coefficient
    -- relative to the layer's residual norm, so a larger vector norm does not look stronger), over
    -- its coherent generations only (an incoherent text's trait score measures nothing)
    select vector_id, positions, scenario_id, scenario_text, regr_slope(trait_score, coef_rel_norm) as slope,
    from outputs
    where is_coherent and trait_score is not null and coef_rel_norm is not null
    group by all
    having count(distinct coef_rel_norm) >= 2
),

position_means as (
    -- per position setting: the mean slope over scenarios (scenarios are the units)
    select
        vector_id,
        positions,
        count(*) as n_scenarios,
        avg(slope) as effect,
        stddev_samp(slope) / sqrt(count(*)) as effect_se,
    from scenario_effects
    group by vector_id, positions
),

effect_t as (
    -- Student's t at 0.975 for each n_scenarios - 1 (macros/quantiles.sql, as the cell scores' intervals)
    {{ student_t_quantiles(0.975, 'select distinct n_scenarios - 1 as df from position_means where n_scenarios > 1') }}
),

position_effects as (
    -- and its 95% t interval (none from one scenario)
    select
        position_means.*,
        effect - effect_t.t * effect_se as effect_ci_low,
        effect + effect_t.t * effect_se as effect_ci_high,
    from position_means
    left join effect_t on effect_t.df = position_means.n_scenarios - 1
),

best_positions as (
    -- the position setting with the highest lower bound (a setting of one scenario has none: last)
    select * from position_effects
    qualify row_number() over (
        partition by vector_id order by effect_ci_low desc nulls last, effect desc, positions) = 1
),

sweeps as (
    select
        steering.vector_id,
        count(*) as n_steering_settings,
        regr_slope(steering.mean_projection, steering.coeff) as projection_per_coeff,
        any_value(best_positions.positions) as steering_positions,
        any_value(best_positions.n_scenarios) as n_steering_scenarios,
        any_value(best_positions.effect) as trait_per_coef_rel_norm,
        any_value(best_positions.effect_se) as trait_per_coef_rel_norm_se,
        any_value(best_positions.effect_ci_low) as trait_per_coef_rel_norm_ci_low,
        any_value(best_positions.effect_ci_high) as trait_per_coef_rel_norm_ci_high,
    from steering
    left join best_positions using (vector_id)
    group by steering.vector_id
),

measured as (
    select
        vectors.*,
        runs.model_id,
        runs.measurement_id,
        coalesce(per_vector.n_labelled_pairs, 0) as n_labelled_pairs,
        separation.mean_judged_positive_projection,
        separation.mean_judged_negative_projection,
        (separation.mean_judged_positive_projection - separation.mean_judged_negative_projection)
            / nullif(sqrt((separation.var_pos + separation.var_neg) / 2), 0) as d_prime,
        separation.auroc,
        -- mean of d_i . d_j over pairs i != j, over mean |d_i|^2: 0 on noise, 1 when all agree
        case when vectors.n_pairs >= 2 then
            (vectors.n_pairs * vectors.vector_norm ^ 2 - per_vector.mean_sq_diff_norm)
            / nullif((vectors.n_pairs - 1) * per_vector.mean_sq_diff_norm, 0)
        end as direction_consistency,
        per_vector.mean_agreement_cosine,
        per_vector.agreement_rate,
        coalesce(per_vector.n_flagged, 0) as n_flagged,
        per_vector.pair_cosine_mean,
        -- sd over the n (n - 1) / 2 distinct pairs of pairs (each counted twice above, same value)
        case when per_vector.n_cosine_pairs >= 3 then
            sqrt(greatest(0.0, per_vector.pair_cosine_sq_mean - per_vector.pair_cosine_mean ^ 2)
                 * (per_vector.n_cosine_pairs * (per_vector.n_cosine_pairs - 1) / 2.0)
                 / (per_vector.n_cosine_pairs * (per_vector.n_cosine_pairs - 1) / 2.0 - 1))
        end as pair_cosine_sd,
        (per_vector.mean_pos_heldout - per_vector.mean_neg_heldout)
            / nullif(sqrt((per_vector.var_pos_heldout + per_vector.var_neg_heldout) / 2), 0) as pole_separation,
        coalesce(sweeps.n_steering_settings, 0) as n_steering_settings,
        sweeps.steering_positions,
        sweeps.n_steering_scenarios,
        sweeps.trait_per_coef_rel_norm,
        sweeps.trait_per_coef_rel_norm_se,
        sweeps.trait_per_coef_rel_norm_ci_low,
        sweeps.trait_per_coef_rel_norm_ci_high,
        sweeps.projection_per_coeff,
        coalesce(per_vector.n_labelled_pairs, 0) >= {{ var('layer_choice_min_pairs') }}
            and separation.auroc is not null as is_eligible,
        is_eligible and coalesce(sweeps.trait_per_coef_rel_norm_ci_low > 0, false)
            and separation.auroc >= {{ var('layer_choice_min_auroc') }} as is_steering_backed,
    from vectors
    inner join runs using (run_id)
    left join per_vector using (vector_id)
    left join separation using (vector_id)
    left join sweeps using (vector_id)
),

picked as (
    select
        *,
        case when is_eligible then row_number() over (
            partition by cell_id, run_id, reduction
            order by is_eligible desc, is_steering_backed desc,
                case when is_steering_backed then trait_per_coef_rel_norm_ci_low end desc nulls last,
                auroc desc, d_prime desc nulls last, layer
        ) end as layer_rank,
        count(*) filter (where is_eligible) over (partition by cell_id, run_id, reduction) as n_eligible_layers,
        count(*) filter (where is_steering_backed) over (partition by cell_id, run_id, reduction) as n_steered_layers,
    from measured
),

final as (
    select
        -- ids
        vector_id,
        cell_id,
        run_id,
        measurement_id,
        model_id,
        -- where
        layer,
        reduction,
        -- separation of the judged poles
        n_pairs,
        n_labelled_pairs,
        mean_judged_positive_projection,
        mean_judged_negative_projection,
        d_prime,
        auroc,
        -- consistency of the pairs' directions
        direction_consistency,
        mean_agreement_cosine,
        agreement_rate,
        n_flagged,
        -- reliability predictors (Braun et al. 2025): predict, do not measure, steerability
        pair_cosine_mean,
        pair_cosine_sd,
        pole_separation,
        -- steering
        n_steering_settings,
        steering_positions,
        n_steering_scenarios,
        trait_per_coef_rel_norm,
        trait_per_coef_rel_norm_se,
        trait_per_coef_rel_norm_ci_low,
        trait_per_coef_rel_norm_ci_high,
        projection_per_coeff,
        -- the pick
        layer_rank,
        coalesce(layer_rank = 1, false) as is_recommended,
        case when layer_rank = 1 and is_steering_backed then
            printf('highest lower bound of the judged steering effect of %d swept layers that separate '
                   || '(AUROC >= %g): %+.2f trait points per unit coef_rel_norm (95%% CI %+.2f to %+.2f over %d '
                   || 'scenarios, coherent generations, positions %s), AUROC %.2f',
                   n_steered_layers, {{ var('layer_choice_min_auroc') }}, trait_per_coef_rel_norm,
                   trait_per_coef_rel_norm_ci_low, trait_per_coef_rel_norm_ci_high, n_steering_scenarios,
                   steering_positions, auroc)
        when layer_rank = 1 then
            printf('best separation of judged-positive from judged-negative completions of %d layers: '
                   || 'AUROC %.2f, d'' %s', n_eligible_layers, auroc, coalesce(printf('%.2f', d_prime), 'n/a'))
        end as recommendation_reason,
        -- timestamps
        created_at,
    from picked
)

select * from final
