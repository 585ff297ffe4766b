-- depends_on: {{ ref('template_pair_scores') }}  (its guarantees check it: built first, for the post-hook)
{{ incremental_by_measurement() }}
-- Length movement per pair and per cell: words and characters each side, signed and
-- absolute deltas (pos - neg). The guide reports length instead of filtering on it.
-- Incremental by measurement (macros/incremental.sql).
with pairs as (
    select * from {{ ref('int_pairs_scored') }}
    where not is_error and {{ measurements_to_build() }}
),

per_pair as not materialized (  -- read twice: recomputing is cheaper than a copy
    select
        pair_id as length_delta_id,
        'pair' as grain,
        cell_id,
        pair_id,
        measurement_id,
        measurement_version,
        template_id,
        persona_pair_id,
        is_control,
        1 as n,
        pos_words::double as pos_words,
        neg_words::double as neg_words,
        pos_chars::double as pos_chars,
        neg_chars::double as neg_chars,
        (pos_words - neg_words)::double as word_delta,
        abs(pos_words - neg_words)::double as abs_word_delta,
        (pos_chars - neg_chars)::double as char_delta,
        abs(pos_chars - neg_chars)::double as abs_char_delta,
        word_delta_frac,
        abs(word_delta_frac) as abs_word_delta_frac,
        axis_delta,
    from pairs
),

per_cell as (
    select
        cell_id as length_delta_id,
        'cell' as grain,
        cell_id,
        null::varchar as pair_id,
        any_value(measurement_id) as measurement_id,
        any_value(measurement_version) as measurement_version,
        any_value(template_id) as template_id,
        any_value(persona_pair_id) as persona_pair_id,
        any_value(is_control) as is_control,
        count(*) as n,
        avg(pos_words) as pos_words,
        avg(neg_words) as neg_words,
        avg(pos_chars) as pos_chars,
        avg(neg_chars) as neg_chars,
        avg(word_delta) as word_delta,
        avg(abs_word_delta) as abs_word_delta,
        avg(char_delta) as char_delta,
        avg(abs_char_delta) as abs_char_delta,
        avg(word_delta_frac) as word_delta_frac,
        avg(abs_word_delta_frac) as abs_word_delta_frac,
        avg(axis_delta) as axis_delta,
    from per_pair
    group by cell_id
)

select * from per_pair
union all
select * from per_cell
