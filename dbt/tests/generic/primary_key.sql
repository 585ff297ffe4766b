{% test primary_key(model, column_name) %}
-- a key column: never null and never repeated (what unique + not_null check, in one query)
select {{ column_name }}, count(*) as n_rows
from {{ model }}
group by {{ column_name }}
having {{ column_name }} is null or count(*) > 1
{% endtest %}
