with source as (
    -- one row per record, however many live loads hold it (macros/held_once.sql)
    {{ held_once(source('raw', 'exported_pairs'), ['measurement_id', 'record_id']) }}
),

parsed as (
    -- one JSON parse per record into a typed struct (ingest already checked shapes and ranges)
    select
        *,
        json_transform(record, '{
            "template": "VARCHAR", "persona_pair": "VARCHAR", "scenario_id": "VARCHAR", "prompt": "VARCHAR",
            "sample": "INTEGER", "artifact": "VARCHAR", "row": "INTEGER", "pos_persona": "VARCHAR", "neg_persona": "VARCHAR",
            "pos_generation_prompt": "VARCHAR", "neg_generation_prompt": "VARCHAR",
            "pos_response": "VARCHAR", "neg_response": "VARCHAR", "error": "VARCHAR",
            "likely_spurious_axis": "VARCHAR",
            "axis_delta": "DOUBLE", "positive_delta": "DOUBLE", "negative_delta": "DOUBLE",
            "pairwise_positive_delta": "DOUBLE", "pairwise_negative_delta": "DOUBLE",
            "off_axis_problem": "DOUBLE", "max_style_abs_delta": "DOUBLE", "word_delta_frac": "DOUBLE",
            "axis_delta_judge_std": "DOUBLE", "axis_judge_mean_abs_disagreement": "DOUBLE",
            "usable_for_training": "BOOLEAN", "persona_echo": "BOOLEAN", "refusal_or_ai_break": "BOOLEAN",
            "strict_pass": "BOOLEAN", "axis_judge_models": "VARCHAR[]", "axis_judgments": "JSON"
        }') as r,
    from source
),

renamed as (
    select
        -- ids
        pair_id,
        record_id,
        measurement_id,
        line_no,
        r.template as template_text,
        r.persona_pair as persona_pair_id,
        r.scenario_id,
        r.prompt as scenario_text,
        coalesce(r.sample, 0) as sample_idx,
        r.artifact as source_run,
        r.row as row_idx,
        -- text
        r.pos_persona,
        r.neg_persona,
        r.pos_generation_prompt as pos_prompt,
        r.neg_generation_prompt as neg_prompt,
        -- what was sent: upstream sends the generation prompt as one user message
        case when r.pos_generation_prompt <> '' then
            json_array(json_object('role', 'user', 'content', r.pos_generation_prompt)) end as pos_messages,
        case when r.neg_generation_prompt <> '' then
            json_array(json_object('role', 'user', 'content', r.neg_generation_prompt)) end as neg_messages,
        r.pos_response,
        r.neg_response,
        -- the one error rule (README.md): null, absent or "" is a success; any other value a failure
        nullif(r.error, '') as error,
        r.likely_spurious_axis,
        -- numerics
        r.axis_delta,
        r.positive_delta,
        r.negative_delta,
        r.pairwise_positive_delta,
        r.pairwise_negative_delta,
        r.off_axis_problem,
        r.max_style_abs_delta,
        r.word_delta_frac,
        r.axis_delta_judge_std,
        r.axis_judge_mean_abs_disagreement,
        -- booleans
        r.usable_for_training as is_usable_for_training,
        r.persona_echo as has_persona_echo,
        r.refusal_or_ai_break as has_refusal_or_ai_break,
        r.strict_pass as is_strict_pass,
        coalesce(r.error <> '', false) as is_error,
        -- nested
        r.axis_judge_models as judge_models,
        r.axis_judgments,
        record,
        loaded_at,
    from parsed
)

select * from renamed
