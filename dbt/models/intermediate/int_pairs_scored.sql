{{ incremental_by_measurement() }}
-- Per-pair metrics (no texts): keys, the template's kind, lengths, word_delta_frac and the
-- strict_pass gate. Incremental by measurement (macros/incremental.sql).
with measured as (
    select * exclude (pos_prompt, neg_prompt, pos_messages, neg_messages, pos_response, neg_response, scenario_text,
                      base_prompt, base_response,
                      exported_axis_judgments, exported_judge_axis)
    from {{ ref('int_pairs_measured') }}
    where {{ measurements_to_build() }}
),

with_length as (
    select
        -- upstream publishes the judges' mean beside axis_delta (equal up to its rounding)
        * replace (coalesce(axis_delta_judge_mean, axis_delta) as axis_delta_judge_mean),
        {{ template_kind('template_text') }} as template_kind,
        template_text = '' as is_control,
        -- an export's own word_delta_frac is kept; otherwise it is derived from the word counts
        coalesce(
            exported_word_delta_frac,
            (pos_words - neg_words) / greatest(1.0, (pos_words + neg_words) / 2.0)
        ) as word_delta_frac,
    from measured
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
        {{ measurement_version() }} as measurement_version,
    from with_length
)

select * from final
