{{ incremental_by_measurement() }}
-- The guide's clean-axis score, the upstream variant, the recommendation and the
-- jackknife standard error of the score over the cell's successful pairs, and the anchored
-- Bayesian-bootstrap interval of the score over the same pairs (macros/bootstrap.sql).
-- Incremental by measurement (macros/incremental.sql).
with cells as (
    select * from {{ ref('int_cell_metrics') }}
    where {{ measurements_to_build() }}
),

pairs as not materialized (  -- read twice: recomputing a plain read is cheaper than a copy
    select * from {{ ref('int_pairs_scored') }}
    where not is_error and {{ measurements_to_build() }}
),

sums as (
    select
        cell_id,
        count(*) as n,
        sum(is_strict_pass::int) as s_pass,
        sum(axis_delta) as s_axis,
        sum(off_axis_problem) as s_off,
        sum(max_style_abs_delta) as s_style,
        sum(has_persona_echo::int) as s_echo,
        sum(has_refusal_or_ai_break::int) as s_refusal,
    from pairs
    group by cell_id
),

leave_one_out as (
    -- the score recomputed without each pair in turn
    select
        pairs.cell_id,
        sums.n,
        {{ clean_axis_score(
            '(sums.s_pass - pairs.is_strict_pass::int) / (sums.n - 1)',
            '(sums.s_axis - pairs.axis_delta) / (sums.n - 1)',
            '(sums.s_off - pairs.off_axis_problem) / (sums.n - 1)',
            '(sums.s_style - pairs.max_style_abs_delta) / (sums.n - 1)',
            '(sums.s_echo - pairs.has_persona_echo::int) / (sums.n - 1)',
            '(sums.s_refusal - pairs.has_refusal_or_ai_break::int) / (sums.n - 1)') }} as score_without_pair,
    from pairs
    join sums using (cell_id)
    where sums.n > 1
),

jackknife as (
    select cell_id, sqrt((any_value(n) - 1) / any_value(n) * sum(power(score_without_pair - mean_loo, 2))) as score_se,
    from (select *, avg(score_without_pair) over (partition by cell_id) as mean_loo from leave_one_out)
    group by cell_id
),

sized as (
    -- the work is pairs x replicates and the memory cells x replicates: a measurement with more
    -- pairs than var('bootstrap_max_pairs') gets no intervals (n_bootstrap 0), not a failed build
    select measurement_id, count(*) <= {{ var('bootstrap_max_pairs') }} as is_bootstrapped,
    from pairs
    group by measurement_id
),

drawn as (
    -- each pair's Exp(1) weight in each replicate (Bayesian bootstrap), for cells of two pairs or more
    select pairs.cell_id, replicate, pairs.is_strict_pass, pairs.axis_delta, pairs.off_axis_problem,
        pairs.max_style_abs_delta, pairs.has_persona_echo, pairs.has_refusal_or_ai_break,
        {{ exponential1(bootstrap_uniform('pairs.pair_id', 'replicate')) }} as w,
    from pairs
    join sums using (cell_id)
    join sized using (measurement_id)
    cross join {{ bootstrap_replicates() }}
    where sums.n > 1 and sized.is_bootstrapped
),

weighted as (
    -- each replicate's weighted sums, and the weight of its one pseudo-pair (macros/bootstrap.sql)
    select
        cell_id,
        replicate,
        sum(w) as w_pairs,
        {{ exponential1(bootstrap_uniform('cell_id', 'replicate')) }} as w_anchor,
        sum(w * is_strict_pass::int) as s_pass,
        sum(w * axis_delta) as s_axis,
        sum(w * off_axis_problem) as s_off,
        sum(w * max_style_abs_delta) as s_style,
        sum(w * has_persona_echo::int) as s_echo,
        sum(w * has_refusal_or_ai_break::int) as s_refusal,
    from drawn
    group by cell_id, replicate
),

replicates as (
    -- the score of each replicate's means with the pseudo-pair at the worst values (for the
    -- lower bound) and at the best values (for the upper bound)
    select
        cell_id,
        {{ anchored_score('worst') }} as score_low,
        {{ anchored_score('best') }} as score_high,
    from weighted
),

bootstrap as (
    select
        cell_id,
        quantile_cont(score_low, {{ (1 - var("bootstrap_level")) / 2 }}) as ci_low,
        quantile_cont(score_high, {{ 1 - (1 - var("bootstrap_level")) / 2 }}) as ci_high,
        count(*) as n_bootstrap,
    from replicates
    group by cell_id
),

scored as (
    select
        cells.*,
        round({{ clean_axis_score('cells.strict_pass_rate', 'cells.mean_axis_delta', 'cells.mean_off_axis_problem',
            'cells.mean_max_style_abs_delta', 'cells.persona_echo_rate', 'cells.refusal_or_ai_break_rate') }}, 1)
            as score,
        -- upstream's headline score (its score_formula `100 * on_axis * (1 - off_axis)`), computed as
        -- upstream's build_hf_dataset.py does: from the 4-dp means it publishes, on/off rounded to 4 dp
        round({{ clamp01('round(cells.mean_axis_delta, 4) / 8.0') }}, 4) as on_axis,
        round({{ clamp01('(round(cells.mean_off_axis_problem, 4) - 1.0) / 6.0') }}, 4) as off_axis,
        round(100.0 * round({{ clamp01('round(cells.mean_axis_delta, 4) / 8.0') }}, 4)
            * (1.0 - round({{ clamp01('(round(cells.mean_off_axis_problem, 4) - 1.0) / 6.0') }}, 4)), 1)
            as score_axis_off_axis,
        round(jackknife.score_se, 2) as score_se,
        round(bootstrap.ci_low, 1) as score_ci_low,
        round(bootstrap.ci_high, 1) as score_ci_high,
        case when cells.n_success > 1 then coalesce(bootstrap.n_bootstrap, 0) end as n_bootstrap,
        case when bootstrap.n_bootstrap > 0 then {{ var('bootstrap_level') }}::double end as score_ci_level,
        {%- for part in score_parts() %}
        {{ score_factor(part, 'cells.strict_pass_rate', 'cells.mean_axis_delta', 'cells.mean_off_axis_problem',
            'cells.mean_max_style_abs_delta', 'cells.persona_echo_rate', 'cells.refusal_or_ai_break_rate') }}
            as factor_{{ part }},
        {%- endfor %}
        {{ recommended('cells') }} as is_recommended,
    from cells
    left join jackknife using (cell_id)
    left join bootstrap using (cell_id)
)

select * from scored
