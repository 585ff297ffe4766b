{#- each row is its measurement's own, from that measurement's raw rows: the incremental model that
    folds this in checks its guarantees over the measurements it recomputes (macros/guarantees.sql,
    psw_check_scope) -#}
{{ config(psw_rows_by_measurement=true) }}
-- Typed at ingest (ingest/typed.py): `fields` holds every known field of the record with its
-- type, so this model selects and renames; it never parses the JSON.
with source as (
    -- one row per record, however many live loads hold it (macros/held_once.sql)
    {{ held_once(source('raw', 'exported_pairs'), ['measurement_id', 'record_id']) }}
),

renamed as (
    select
        -- ids
        pair_id,
        record_id,
        measurement_id,
        line_no,
        fields.template as template_text,
        fields.persona_pair as persona_pair_id,
        fields.scenario_id,
        fields.prompt as scenario_text,
        coalesce(fields."sample", 0) as sample_idx,
        fields.artifact as source_run,
        fields."row" as row_idx,
        -- text
        fields.pos_persona,
        fields.neg_persona,
        fields.pos_generation_prompt as pos_prompt,
        fields.neg_generation_prompt as neg_prompt,
        -- what was sent: upstream sends the generation prompt as one user message
        case when fields.pos_generation_prompt <> '' then
            json_array(json_object('role', 'user', 'content', fields.pos_generation_prompt)) end as pos_messages,
        case when fields.neg_generation_prompt <> '' then
            json_array(json_object('role', 'user', 'content', fields.neg_generation_prompt)) end as neg_messages,
        fields.pos_response,
        fields.neg_response,
        -- the one error rule (README.md): null, absent or "" is a success; any other value a failure
        nullif(fields.error, '') as error,
        fields.likely_spurious_axis,
        -- numerics
        fields.axis_delta,
        fields.positive_delta,
        fields.negative_delta,
        fields.pairwise_positive_delta,
        fields.pairwise_negative_delta,
        fields.off_axis_problem,
        fields.max_style_abs_delta,
        fields.word_delta_frac,
        fields.axis_delta_judge_std,
        fields.axis_judge_mean_abs_disagreement,
        -- booleans
        fields.usable_for_training as is_usable_for_training,
        fields.persona_echo as has_persona_echo,
        fields.refusal_or_ai_break as has_refusal_or_ai_break,
        fields.strict_pass as is_strict_pass,
        coalesce(fields.error <> '', false) as is_error,
        -- nested
        fields.axis_judge_models as judge_models,
        fields.axis_judgments,
        -- every known field, typed (the v3 and anchored ones are read from here)
        fields,
        record,
        loaded_at,
    from source
)

select * from renamed
