{#- each row is its measurement's own, from that measurement's raw rows: the incremental model that
    folds this in checks its guarantees over the measurements it recomputes (macros/guarantees.sql,
    psw_check_scope) -#}
{{ config(psw_rows_by_measurement=true) }}
with source as (
    -- one row per pair. A record several live loads brought is held once per load (a load owns its
    -- rows: warehouse/schema.py), and its copies are the same record; a pair generated again after
    -- a generation error (`psw collect --retry-errors`) has a row per attempt: the newest
    -- successful row counts, else the newest error
    select * from {{ source('raw', 'pairs') }}
    qualify row_number() over (partition by measurement_id, pair_id
                               order by error is null desc, loaded_at desc, load_id desc) = 1
),

renamed as (
    select
        pair_id,
        measurement_id,
        template_text,
        persona_pair_id,
        scenario_id,
        scenario_text,
        sample_idx,
        source_run,
        row_idx,
        pos_persona,
        neg_persona,
        pos_label,
        pos_prompt,
        neg_prompt,
        pos_messages,
        neg_messages,
        pos_response,
        neg_response,
        base_prompt,
        base_response,
        generator_model,
        error,
        error is not null as is_generation_error,
        extra,
        loaded_at,
    from source
)

select * from renamed
