{#- Bootstrap replicates without row numbering or joins. In replicate r a row gets a weight drawn
    by a seeded hash of (row key, r, var('bootstrap_seed')); sum(w * x) / sum(w) over a group is
    that replicate's resampled mean, so a group's replicates are one pass over its rows. DuckDB's
    hash is stable within a DuckDB version (the build fingerprint records it), so a rebuild draws
    the same replicates. -#}

{#- u in [0, 1): the top 53 bits of the seeded hash. -#}
{% macro bootstrap_uniform(key, replicate) -%}
    (hash({{ key }}, {{ replicate }}, {{ var('bootstrap_seed') }}) // 2048) / 9007199254740992.0
{%- endmacro %}

{#- The replicate numbers, a table function: range(var('bootstrap_replicates')). -#}
{% macro bootstrap_replicates() -%}
    range({{ var('bootstrap_replicates') }}) as replicates(replicate)
{%- endmacro %}

{#- The two-sided percentile interval's quantiles for var('bootstrap_level'). -#}
{% macro bootstrap_quantiles() -%}
    [{{ (1 - var('bootstrap_level')) / 2 }}, {{ 1 - (1 - var('bootstrap_level')) / 2 }}]
{%- endmacro %}

{#- An Exp(1) weight for u in [0, 1). Normalised, n of them are Dirichlet(1, ..., 1): the
    Bayesian bootstrap's weights, continuous, so a replicate never drops every row. -#}
{% macro exponential1(u) -%}
    -ln(1.0 - {{ u }})
{%- endmacro %}

{#- The cell score interval (int_cell_scores): the Bayesian bootstrap with one pseudo-pair of
    Exp(1) weight added to every replicate, at the worst possible values for the lower bound and
    at the best for the upper (Gaffke 2005; Learned-Miller and Thomas 2019: for one mean of a
    bounded variable this bound holds at its level at every n, and for 0/1 data it is the
    Clopper-Pearson bound). The score rises with the pass rate and the axis delta and falls with
    the others, so the pseudo-pair pulls every factor the same way. Without it, small cells
    get zero-width intervals (one constant factor) that cover 52-78% at n = 3-4.
    A failed pair (error) is an unknown outcome: it carries its own weight and sits with the
    pseudo-pair, at the worst values for the lower bound and the best for the upper ('errors are
    bounded, not dropped'). For P(top k) ('centre') the pseudo-pair and the failed pairs sit at one
    point drawn uniformly between the worst and the best values (u_centre), so a replicate is a draw
    of the cell's score, not a bound. -#}
{% macro score_anchor(side) -%}
    {%- if side == 'worst' -%} {{ return({'pass': 0, 'axis': -8, 'off': 7, 'style': 6, 'echo': 1, 'refusal': 1}) }}
    {%- else -%} {{ return({'pass': 1, 'axis': 8, 'off': 1, 'style': 0, 'echo': 0, 'refusal': 0}) }}
    {%- endif -%}
{%- endmacro %}

{#- The score of one replicate's weighted sums (s_<part> over the successful pairs, w_pairs their
    weight) with the unknown weight w_unknown (the failed pairs and the pseudo-pair) at `side`:
    'worst', 'best', or 'centre' (worst + u_centre * (best - worst)). -#}
{% macro anchored_score(side) -%}
    {%- set worst, best = score_anchor('worst'), score_anchor('best') -%}
    {%- set mean = [] -%}
    {%- for part in ['pass', 'axis', 'off', 'style', 'echo', 'refusal'] -%}
        {%- if side == 'centre' -%}
            {%- set value = '(' ~ worst[part] ~ ' + u_centre * ' ~ (best[part] - worst[part]) ~ ')' -%}
        {%- else -%}
            {%- set value = score_anchor(side)[part] -%}
        {%- endif -%}
        {%- do mean.append('(s_' ~ part ~ ' + w_unknown * ' ~ value ~ ') / (w_pairs + w_unknown)') -%}
    {%- endfor -%}
    {{ clean_axis_score(*mean) }}
{%- endmacro %}

{#- The replicates' weights, one table for every cell: row r holds an Exp(1) weight for each
    position 0..max_n (position 0 is the pseudo-pair's, position i the cell's i-th pair in pair_id
    order) and u_centre. Cell c takes row (r + its offset) mod R in replicate r, so its replicates
    are R independent Bayesian-bootstrap draws, and in one replicate two cells share a row only
    when their offsets (a seeded hash of the cell) agree, 1 in R. Drawing weights per row
    rather than per pair and replicate makes the draw R x max_n hashes instead of pairs x R. -#}
{% macro bootstrap_weight_rows(max_n) -%}
    select
        replicate,
        list_transform(range({{ max_n }} + 1),
            lambda position: {{ exponential1(bootstrap_uniform('position', 'replicate')) }}) as weights,
        {{ bootstrap_uniform("'centre'", 'replicate') }} as u_centre,
    from {{ bootstrap_replicates() }}
{%- endmacro %}

{% macro bootstrap_offset(key) -%}
    hash({{ key }}, {{ var('bootstrap_seed') }}) % greatest({{ var('bootstrap_replicates') }}, 1)
{%- endmacro %}

{#- The replicate in which a cell whose offset is `offset` reads weight row `row`: (row - offset) mod R,
    the inverse of "row (r + offset) mod R in replicate r", so a cell crossed with every weight row
    has each of its replicates once, without a join on the row number. -#}
{% macro bootstrap_replicate_of(row, offset) -%}
    ({{ row }} + greatest({{ var('bootstrap_replicates') }}, 1) - ({{ offset }})::bigint)
        % greatest({{ var('bootstrap_replicates') }}, 1)
{%- endmacro %}

{#- dot / sqrt(norm_sq_a * norm_sq_b) clamped to [-1, 1] (trait_geometry): with norms estimated from
    cross terms the ratio can pass 1, and a norm estimate at or below 0 (a vector indistinguishable
    from noise) leaves the cosine at the sign of the dot product. -#}
{% macro bounded_cosine(dot, norm_sq_a, norm_sq_b) -%}
    least(1.0, greatest(-1.0, ({{ dot }}) / sqrt(greatest({{ norm_sq_a }}, 1e-150) * greatest({{ norm_sq_b }}, 1e-150))))::double
{%- endmacro %}
