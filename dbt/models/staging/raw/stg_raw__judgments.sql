-- depends_on: {{ ref('stg_raw__pairs') }}  (its guarantees check it: built first, for the post-hook)
with source as (
    select * from {{ source('raw', 'judgments') }}
),

latest as (
    -- re-judging appends; the newest successful output of a call wins, else its newest error
    select *
    from source
    qualify row_number() over (
        partition by pair_id, judge_model, prompt_hash, criterion
        order by (error is null and output is not null) desc, loaded_at desc, judgment_id
    ) = 1
),

renamed as (
    select
        judgment_id,
        pair_id,
        measurement_id,
        judge_model,
        prompt_hash,
        criterion,
        pos_label,
        output,
        raw_text,
        error,
        error is not null or output is null as is_error,
        loaded_at,
    from latest
)

select * from renamed
