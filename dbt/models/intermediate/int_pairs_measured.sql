{{ config(materialized='view') }}
-- Every measured pair in one shape: derived from raw judge objects where a run carries
-- them (int_pairs_judged), taken from the exported per-pair metrics otherwise
-- (int_exported_pairs). A view: the texts stay in those two tables, never copied.
select * from {{ ref('int_pairs_judged') }}
union all by name
select * exclude (measurement_version) from {{ ref('int_exported_pairs') }}
