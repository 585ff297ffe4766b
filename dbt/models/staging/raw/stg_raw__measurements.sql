with source as (
    select * from {{ source('raw', 'measurements') }}
),

renamed as (
    -- several loads can feed one measurement: keep the latest value each field was given
    select
        measurement_id,
        arg_max(generator_model, recorded_at) filter (where generator_model is not null) as generator_model,
        arg_max(judge_models, recorded_at) filter (where judge_models is not null) as judge_models,
        arg_max(temperature, recorded_at) filter (where temperature is not null) as temperature,
        arg_max(seed, recorded_at) filter (where seed is not null) as seed,
        arg_max(source_format, recorded_at) as source_format,
        -- the judging protocol a load declared (params.protocol, typed when written: 'anchored'),
        -- and the run's settings
        arg_max(params_typed.protocol, recorded_at) filter (where params_typed.protocol is not null)
            as declared_protocol,
        arg_max(params, recorded_at) as params,
        min(recorded_at) as first_loaded_at,
        max(recorded_at) as last_loaded_at,
    from source
    group by measurement_id
)

select * from renamed
