{#- De-duplication across loads: the one declared rule (warehouse/schema.py, "a load owns its rows").

    A record that several live loads brought is held in raw once per load, so `psw forget --load`
    removes exactly what no live load holds. Staging keeps one row of each: the row of the earliest
    load (loaded_at, then load_id) among those holding `keys`. Ingest refuses two different records
    under one key, so the rows left out here are copies of the one kept. An anti join on the keys
    (not an aggregate joined back): a reader's filter on a key (an incremental model's measurements)
    then reaches both sides, so adding a run reads that run's rows only; an aggregate kept DuckDB
    grouping every row of the table (0.6-0.8 s of raw.exported_pairs at 1M pairs, per model). -#}
{#- The earlier side holds only the rows of a `keys[0]` (a measurement) that more than one load brought:
    a row of one brought by a single load has no earlier copy. So the anti join's hash table is built
    from those rows, not from every row (reading every row of raw.exported_pairs at 1M pairs, one load:
    0.13 -> 0.02 s; the added run's rows alone: 0.022 -> 0.011 s). The group by that finds them is over
    the measurement column alone (a few groups), not the aggregate over every key described above. -#}
{% macro held_once(relation, keys) -%}
    select held.*
    from {{ relation }} as held
    anti join (
        select * from {{ relation }}
        where {{ keys[0] }} in (select {{ keys[0] }} from {{ relation }} group by all
                                having count(distinct (loaded_at, load_id)) > 1)
    ) as earlier
        on {% for key in keys %}earlier.{{ key }} = held.{{ key }} and {% endfor -%}
           (earlier.loaded_at, earlier.load_id) < (held.loaded_at, held.load_id)
{%- endmacro %}
