{#- Contexts of the models incremental by measurement whose rows read more than their measurement's
    own rows (incremental_by_measurement(context=...), macros/incremental.sql): each macro named there
    returns, for the stored table, every row's measurement, its stored context_version and the hash of
    its context now; a build recomputes the measurements where the two differ. -#}

{#- What a row of template_pair_scores reads beyond its own measurement's rows: its control arm
    (int_control_arms: a control cell from another measurement can become a cell's control when that
    measurement is loaded), its persona pair's definition (stg_raw__persona_pairs: a later load of
    the same id replaces it) and its measurement's settings (stg_raw__measurements). The model joins
    them with cell_context_joins and stores cell_context_version() beside each row; a later build
    recomputes the measurements whose stored hash differs from the current one
    (incremental_by_measurement(context='cell_context')).
    A column the model takes from these joins belongs in the hash. -#}

{% macro cell_context_joins(cells) -%}
    left join {{ ref('int_control_arms') }} as controls on controls.cell_id = {{ cells }}.cell_id
    left join {{ ref('stg_raw__persona_pairs') }} as persona_pairs on persona_pairs.persona_pair_id = {{ cells }}.persona_pair_id
    left join {{ ref('stg_raw__measurements') }} as measurements on measurements.measurement_id = {{ cells }}.measurement_id
{%- endmacro %}

{#- hash(), not md5 of the text: 0.01 s against 0.13 s over 250k cells (1M pairs); a DuckDB release
    that hashes differently recomputes every measurement once, which is only slower -#}
{% macro cell_context_version() -%}
    hash(struct_pack(
        control_cell_id := controls.control_cell_id,
        control_score := controls.control_score,
        control_mean_axis_delta := controls.control_mean_axis_delta,
        pos_persona := persona_pairs.pos_persona,
        neg_persona := persona_pairs.neg_persona,
        positive_behavior := persona_pairs.positive_behavior,
        negative_behavior := persona_pairs.negative_behavior,
        source_id := persona_pairs.source_id,
        generator_model := measurements.generator_model,
        judge_models := measurements.judge_models,
        temperature := measurements.temperature,
        seed := measurements.seed))
{%- endmacro %}

{#- incremental_by_measurement's context macro: each stored row's measurement, its stored hash and
    its context's hash now. -#}
{% macro cell_context(stored) -%}
    select built.measurement_id, built.context_version as stored, {{ cell_context_version() }} as current
    from {{ stored }} as built
    {{ cell_context_joins('built') }}
{%- endmacro %}

{#- What a row of upstream_summaries reads beyond its measurement's version: its measurement's cells
    in template_pair_scores, which change without that version when their context does (their
    context_versions, above), and the persona pairs defined (every one is a candidate row). -#}
{% macro summary_context_versions(where='true') -%}
    {#- bit_xor of each cell's hash: a set's hash with no sort (0.11 s with list(... order by) over 250k cells);
        cell_id and persona_pair_id are keys, so no two equal terms cancel -#}
    select cells.measurement_id,
        hash(bit_xor(hash(cells.cell_id, cells.context_version)),
             (select bit_xor(hash(persona_pair_id)) from {{ ref('stg_raw__persona_pairs') }})) as context_version,
    from {{ ref('template_pair_scores') }} as cells
    where {{ where }}
    group by cells.measurement_id
{%- endmacro %}

{% macro summary_context(stored) -%}
    select built.measurement_id, built.context_version as stored, now.context_version as current
    from {{ stored }} as built
    left join ({{ summary_context_versions() }}) as now using (measurement_id)
{%- endmacro %}
