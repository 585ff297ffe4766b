{% test within_range(model, column_name, min_value, max_value) %}
-- rows whose value lies outside [min_value, max_value]; nulls are allowed
select * from {{ model }}
where {{ column_name }} is not null
  and ({{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }})
{% endtest %}

{% test expression_true(model, column_name, expression) %}
-- rows where an invariant does not hold
select * from {{ model }}
where not coalesce({{ expression }}, false)
{% endtest %}

{% test unique_combination(model, columns) %}
-- rows whose combination of columns is not unique
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
