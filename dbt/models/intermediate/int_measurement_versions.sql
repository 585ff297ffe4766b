{{ config(materialized='view', post_hook="{{ psw_note_stale_measurements() }}") }}
-- One version string per measurement for the models that are incremental by measurement
-- (macros/incremental.sql): it changes when rows of the measurement are loaded or when a
-- var that the derivations read changes.
select
    measurement_id,
    md5(concat_ws(chr(31), measurement_id, n_rows, last_loaded_at, '{{ derivation_vars_json() }}'))
        as measurement_version,
from {{ ref('stg_raw__measurement_loads') }}
