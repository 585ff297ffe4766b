{#- Quantiles the warehouse needs and DuckDB lacks. `prob` is a number known when the model compiles
    (a var such as (1 + bootstrap_level) / 2), so each is a constant or a per-df expression. -#}

{#- The standard normal's quantile at prob in (0, 1), a double: Acklam's rational approximation
    (relative error below 1.2e-9; the tail form within 0.02425 of either end). -#}
{% macro normal_quantile(prob) -%}
    {%- set a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.3577518672690, -30.66479806614716, 2.506628277459239] -%}
    {%- set b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572] -%}
    {%- set c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783] -%}
    {%- set d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416] -%}
    {%- if prob < 0.02425 or prob > 0.97575 -%}
        {%- set tail = 'sqrt(-2 * ln(' ~ (prob if prob < 0.5 else 1 - prob) ~ '))' -%}
        {{- '-' if prob > 0.5 -}}
        (((((({{ c[0] }} * {{ tail }} + {{ c[1] }}) * {{ tail }} + {{ c[2] }}) * {{ tail }} + {{ c[3] }}) * {{ tail }} + {{ c[4] }}) * {{ tail }} + {{ c[5] }})
        / (((({{ d[0] }} * {{ tail }} + {{ d[1] }}) * {{ tail }} + {{ d[2] }}) * {{ tail }} + {{ d[3] }}) * {{ tail }} + 1))::double
    {%- else -%}
        {%- set q = prob - 0.5 -%} {%- set r = q * q -%}
        ({{ (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1) }})::double
    {%- endif -%}
{%- endmacro %}

{#- Student's t quantile at prob in (0.5, 1) for each df of `dfs` (a query with an integer column df >= 1):
    a select of (df, t). Hill (1970), CACM Algorithm 396: exact at df 1 and 2, and otherwise within a
    relative 7e-6 of scipy's t.ppf at prob 0.8-0.9995 and df 3 to 10^6 (measured; tests/core/
    test_quantiles.py pins it to the tables). Each step is a column of its own select, read by the next
    as the algorithm's steps read the ones before them. (Written as DuckDB's lateral aliases in one
    select, each alias was expanded into every expression that names it, so `t` held the whole tree
    many times over: ~30 ms to bind in every build of a model that asks for it.) -#}
{% macro student_t_quantiles(prob, dfs) -%}
    {%- set two_sided = '(' ~ (2 * (1 - prob)) ~ ')::double' -%}
    select df, t from (
    select
        df,
        case
            when df = 1 then 1.0 / tan({{ two_sided }} * pi() / 2)
            when df = 2 then sqrt(2.0 / ({{ two_sided }} * (2.0 - {{ two_sided }})) - 2.0)
            when y_small > 0.05 + a then sqrt(nu * (exp(a * y_normal * y_normal) - 1.0))
            -- far in the tail for few df
            else sqrt(nu * (((1.0 / (((nu + 6.0) / (nu * y_small) - 0.089 * d - 0.822) * (nu + 2.0) * 3.0)
                + 0.5 / (nu + 4.0)) * y_small - 1.0) * (nu + 1.0) / (nu + 2.0) + 1.0 / y_small))
        end as t,
    from (select *, (((((0.4 * x * x + 6.3) * x * x + 36.0) * x * x + 94.5) / c_normal - x * x - 3.0) / b + 1.0) * x
                    as y_normal,
    from (select *, (((0.05 * d * x - 5.0) * x - 7.0) * x - 2.0) * x + b + c
                    + case when nu < 5 then 0.3 * (nu - 4.5) * (x + 0.6) else 0 end as c_normal,
    from (select *, pow(d * {{ two_sided }}, 2.0 / nu) as y_small,
                    -- near the normal (the usual case): an expansion about the normal quantile x
                    {{ normal_quantile(1 - prob) }} as x,
    from (select *, ((94.5 / (b + c) - 3.0) / b + 1.0) * sqrt(a * pi() / 2) * nu as d,
    from (select *, ((20700.0 * a / b - 98.0) * a - 16.0) * a + 96.36 as c,
    from (select *, 48.0 / (a * a) as b,
    from (select *, 1.0 / (nu - 0.5) as a,
    from (select df, df::double as nu, from ({{ dfs }})))))))))
    )
{%- endmacro %}
