{{ incremental_by_measurement() }}
-- The guide's clean-axis score, the upstream variant, the recommendation and the
-- jackknife standard error of the score over the cell's successful pairs, and the anchored
-- Bayesian-bootstrap interval of the score over the same pairs with the failed pairs bounded,
-- and P(top k) from the same replicates (macros/bootstrap.sql, docs/statistics.md). Where no
-- bootstrap is drawn (a measurement past var('bootstrap_max_pairs'), or bootstrap_replicates 0) the
-- interval is score +/- Student's t x the jackknife SE instead (score_ci_method says which).
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
    select cell_id, any_value(n) as n, sqrt((any_value(n) - 1) / any_value(n) * sum(power(score_without_pair - mean_loo, 2))) as score_se,
    from (select *, avg(score_without_pair) over (partition by cell_id) as mean_loo from leave_one_out)
    group by cell_id
),

t_quantiles as (
    -- the analytic interval's Student's t at (1 + level) / 2, one row per n - 1 (macros/quantiles.sql)
    {{ student_t_quantiles((1 + var('bootstrap_level')) / 2, 'select distinct n - 1 as df from jackknife') }}
),

sized as (
    -- the work is pairs x replicates and the memory cells x replicates: a measurement with more
    -- pairs than var('bootstrap_max_pairs') gets no bootstrap (n_bootstrap 0; the analytic interval
    -- below instead), not a failed build
    select measurement_id, count(*) <= {{ var('bootstrap_max_pairs') }} as is_bootstrapped,
    from pairs
    group by measurement_id
),

cell_values as (
    -- a cell's pairs as lists in pair_id order, for cells of two successful pairs or more; a failed
    -- pair is a 0 in every value list and a 1 in is_error (macros/bootstrap.sql: it is bounded, not dropped)
    select
        every_pair.cell_id,
        any_value(every_pair.measurement_id) as measurement_id,
        count(*) as n_all,
        {{ bootstrap_offset('every_pair.cell_id') }} as replicate_offset,
        list(every_pair.is_error::double order by every_pair.pair_id) as v_error,
        {%- for part, column in [('pass', 'is_strict_pass::int'), ('axis', 'axis_delta'), ('off', 'off_axis_problem'),
            ('style', 'max_style_abs_delta'), ('echo', 'has_persona_echo::int'), ('refusal', 'has_refusal_or_ai_break::int')] %}
        list(case when every_pair.is_error then 0.0 else every_pair.{{ column }}::double end
            order by every_pair.pair_id) as v_{{ part }},
        {%- endfor %}
    from {{ ref('int_pairs_scored') }} as every_pair
    join sums using (cell_id)
    join sized using (measurement_id)
    where sums.n > 1 and sized.is_bootstrapped and {{ measurements_to_build() }}
    group by every_pair.cell_id
),

weight_rows as (
    {{ bootstrap_weight_rows('(select coalesce(max(n_all), 0) from cell_values)') }}
),

weighted as not materialized (  -- read once, by replicates: DuckDB would copy its cells x replicates rows
    -- each replicate's weighted sums over the successful pairs, and the unknown weight: the failed
    -- pairs' and the pseudo-pair's (position 0 of the row); each (cell, weight row) once, in the
    -- replicate that reads that row (macros/bootstrap.sql)
    select
        cell_values.cell_id,
        cell_values.measurement_id,
        {{ bootstrap_replicate_of('weight_rows.replicate', 'cell_values.replicate_offset') }} as replicate,
        weight_rows.u_centre,
        list_slice(weight_rows.weights, 2, cell_values.n_all + 1) as w,
        list_sum(w) - list_inner_product(w, cell_values.v_error) as w_pairs,
        weight_rows.weights[1] + list_inner_product(w, cell_values.v_error) as w_unknown,
        {%- for part in ['pass', 'axis', 'off', 'style', 'echo', 'refusal'] %}
        list_inner_product(w, cell_values.v_{{ part }}) as s_{{ part }},
        {%- endfor %}
    from cell_values
    cross join weight_rows
),

replicates as materialized (  -- read twice (top_k_bars, bootstrap): its scores computed once, not per reader
    -- the score of each replicate's means with the unknown weight at the worst values (for the
    -- lower bound), at the best (for the upper bound), and at a uniform point between (P(top k))
    select
        cell_id,
        measurement_id,
        replicate,
        {{ anchored_score('worst') }} as score_low,
        {{ anchored_score('best') }} as score_high,
        {{ anchored_score('centre') }} as score_draw,
    from weighted
),

top_k_bars as (
    -- per measurement and replicate, the k-th highest drawn score (var top_k): a cell at or above it
    -- is in that replicate's top k (ties count in); fewer than k cells put every cell in
    select measurement_id, replicate, max(score_draw, {{ var('top_k') }})[{{ var('top_k') }}] as top_k_bar,
    from replicates
    group by measurement_id, replicate
),

bootstrap as (
    select
        replicates.cell_id,
        quantile_cont(replicates.score_low, {{ (1 - var("bootstrap_level")) / 2 }}) as ci_low,
        quantile_cont(replicates.score_high, {{ 1 - (1 - var("bootstrap_level")) / 2 }}) as ci_high,
        avg((replicates.score_draw >= coalesce(top_k_bars.top_k_bar, -1))::int) as p_top_k,
        count(*) as n_bootstrap,
    from replicates
    join top_k_bars using (measurement_id, replicate)
    group by replicates.cell_id
),

points as (
    select
        cell_id,
        {{ clean_axis_score('strict_pass_rate', 'mean_axis_delta', 'mean_off_axis_problem',
            'mean_max_style_abs_delta', 'persona_echo_rate', 'refusal_or_ai_break_rate') }} as score,
    from cells
),

intervals as (
    -- the bootstrap's interval where it was drawn; elsewhere (n >= 2) score +/- t(n - 1) x the
    -- jackknife SE, within the score's range [0, 100]
    select
        jackknife.cell_id,
        case when bootstrap.n_bootstrap > 0 then 'bootstrap' else 'jackknife_t' end as score_ci_method,
        case when bootstrap.n_bootstrap > 0 then bootstrap.ci_low
            else greatest(0.0, points.score - t_quantiles.t * jackknife.score_se) end as ci_low,
        case when bootstrap.n_bootstrap > 0 then bootstrap.ci_high
            else least(100.0, points.score + t_quantiles.t * jackknife.score_se) end as ci_high,
    from jackknife
    join points using (cell_id)
    join t_quantiles on t_quantiles.df = jackknife.n - 1
    left join bootstrap using (cell_id)
),

scored as (
    select
        cells.*,
        round(points.score, 1) as score,
        -- upstream's headline score (its score_formula `100 * on_axis * (1 - off_axis)`), computed as
        -- upstream's build_hf_dataset.py does: from the 4-dp means it publishes, on/off rounded to 4 dp
        round({{ clamp01('round(cells.mean_axis_delta, 4) / 8.0') }}, 4) as on_axis,
        round({{ clamp01('(round(cells.mean_off_axis_problem, 4) - 1.0) / 6.0') }}, 4) as off_axis,
        round(100.0 * round({{ clamp01('round(cells.mean_axis_delta, 4) / 8.0') }}, 4)
            * (1.0 - round({{ clamp01('(round(cells.mean_off_axis_problem, 4) - 1.0) / 6.0') }}, 4)), 1)
            as score_axis_off_axis,
        round(jackknife.score_se, 2) as score_se,
        round(intervals.ci_low, 1) as score_ci_low,
        round(intervals.ci_high, 1) as score_ci_high,
        intervals.score_ci_method,
        case when cells.n_success > 1 then coalesce(bootstrap.n_bootstrap, 0) end as n_bootstrap,
        case when intervals.ci_low is not null then {{ var('bootstrap_level') }}::double end as score_ci_level,
        round(bootstrap.p_top_k, 3) as p_top_k,
        cells.n_errors / nullif(cells.n_planned, 0) as error_rate,
        {%- for part in score_parts() %}
        {{ score_factor(part, 'cells.strict_pass_rate', 'cells.mean_axis_delta', 'cells.mean_off_axis_problem',
            'cells.mean_max_style_abs_delta', 'cells.persona_echo_rate', 'cells.refusal_or_ai_break_rate') }}
            as factor_{{ part }},
        {%- endfor %}
        {{ recommended('cells') }} as is_recommended,
        -- and the score's lower bound clears the least score a recommended cell can have (the score at
        -- every threshold of the rule): the point estimates are not enough at n = 4-16. The bootstrap's
        -- only: the analytic interval neither bounds the failed pairs nor covers at small n
        is_recommended and coalesce(round(bootstrap.ci_low, 1) >= round({{ recommended_score_bar() }}, 1), false)
            as is_recommended_confident,
    from cells
    join points using (cell_id)
    left join jackknife using (cell_id)
    left join intervals using (cell_id)
    left join bootstrap using (cell_id)
)

select * from scored
