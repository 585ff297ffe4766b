{#- De-duplication across loads: the one declared rule (warehouse/schema.py, "a load owns its rows").

    A record that several live loads brought is held in raw once per load, so `psw forget --load`
    removes exactly what no live load holds. Staging keeps one row of each: the row of the earliest
    load (loaded_at, then load_id) among those holding `keys`. Ingest refuses two different records
    under one key, so the rows left out here are copies of the one kept. Only the keys go through
    the aggregate; the rows themselves are matched by a semi join. -#}
{% macro held_once(relation, keys) -%}
    select held.*
    from {{ relation }} as held
    semi join (
        select {{ keys | join(', ') }}, arg_min(load_id, (loaded_at, load_id)) as load_id
        from {{ relation }}
        group by all
    ) as first_load using ({{ keys | join(', ') }}, load_id)
{%- endmacro %}
