-- Per-pair metrics with keys, lengths, word_delta_frac and the strict_pass gate.
with measured as (
    select * from {{ ref('int_pairs_measured') }}
),

lengths as (
    select * from {{ ref('int_pair_lengths') }}
),

keyed as (
    select
        {{ short_id('cell', 'measured.measurement_id', 'measured.template_text', 'measured.persona_pair_id') }}
            as cell_id,
        {{ short_id('tpl', 'measured.template_text') }} as template_id,
        measured.*,
        lengths.pos_words,
        lengths.neg_words,
        lengths.pos_chars,
        lengths.neg_chars,
        -- an export's own word_delta_frac is kept; otherwise it is derived from the texts
        coalesce(
            measured.exported_word_delta_frac,
            (lengths.pos_words - lengths.neg_words) / greatest(1.0, (lengths.pos_words + lengths.neg_words) / 2.0)
        ) as word_delta_frac,
    from measured
    left join lengths using (pair_id)
),

final as (
    select
        *,
        case when not is_error then
            axis_delta >= {{ var('strict_min_axis_delta') }}
            and off_axis_problem <= {{ var('strict_max_off_axis_problem') }}
            and coalesce(is_usable_for_training, false)
            and max_style_abs_delta <= {{ var('strict_max_style_abs_delta') }}
            and coalesce(abs(word_delta_frac) <= {{ var_or_null('strict_max_abs_word_delta_frac') }}, true)
            and not coalesce(has_persona_echo, false)
            and not coalesce(has_refusal_or_ai_break, false)
        end as is_strict_pass,
    from keyed
)

select * from final
