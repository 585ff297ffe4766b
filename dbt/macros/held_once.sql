{#- De-duplication across loads: the one declared rule (warehouse/schema.py, "a load owns its rows").

    A record that several live loads brought is held in raw once per load, so `psw forget --load`
    removes exactly what no live load holds. Staging keeps one row of each: the row of the earliest
    load (loaded_at, then load_id) among those holding `keys`. Ingest refuses two different records
    under one key, so the rows left out here are copies of the one kept. An anti join on the keys
    (not an aggregate joined back): a reader's filter on a key (an incremental model's measurements)
    then reaches both sides, so adding a run reads that run's rows only; an aggregate kept DuckDB
    grouping every row of the table (0.6-0.8 s of raw.exported_pairs at 1M pairs, per model). -#}
{% macro held_once(relation, keys) -%}
    select held.*
    from {{ relation }} as held
    anti join {{ relation }} as earlier
        on {% for key in keys %}earlier.{{ key }} = held.{{ key }} and {% endfor -%}
           (earlier.loaded_at, earlier.load_id) < (held.loaded_at, held.load_id)
{%- endmacro %}
