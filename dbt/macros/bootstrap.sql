{#- The Poisson bootstrap. In replicate r a row counts w times, w drawn from Poisson(1) by a
    seeded hash of (row key, r, var('bootstrap_seed')); sum(w * x) / sum(w) over a group is that
    replicate's resampled mean. Unlike the multinomial bootstrap it needs no row numbering or
    join: a group's replicates are one pass over its rows. A replicate in which a group drew
    no row at all is left out. DuckDB's hash is stable within a DuckDB version (the build
    fingerprint records it), so a rebuild draws the same replicates. -#}

{#- u in [0, 1): the top 53 bits of the seeded hash. -#}
{% macro bootstrap_uniform(key, replicate) -%}
    (hash({{ key }}, {{ replicate }}, {{ var('bootstrap_seed') }}) // 2048) / 9007199254740992.0
{%- endmacro %}

{#- The Poisson(1) count for u: thresholds are the cumulative P(w <= 0) .. P(w <= 6). -#}
{% macro poisson1(u) -%}
    ({%- for threshold in [0.36787944117, 0.73575888234, 0.91969860293, 0.98101184312,
                          0.99634015317, 0.99940581518, 0.99991675551] -%}
    ({{ u }} >= {{ threshold }})::int{{ ' + ' if not loop.last }}
    {%- endfor -%})
{%- endmacro %}

{#- The replicate numbers, a table function: range(var('bootstrap_replicates')). -#}
{% macro bootstrap_replicates() -%}
    range({{ var('bootstrap_replicates') }}) as replicates(replicate)
{%- endmacro %}

{#- The two-sided percentile interval's quantiles for var('bootstrap_level'). -#}
{% macro bootstrap_quantiles() -%}
    [{{ (1 - var('bootstrap_level')) / 2 }}, {{ 1 - (1 - var('bootstrap_level')) / 2 }}]
{%- endmacro %}
