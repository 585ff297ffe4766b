-- The two query shapes of the `guarantees` data test (tests/generic/guarantees.sql): rows that
-- break a rule, and key values that repeat. Each returns column_name, rule, value, check_no.

{% macro psw_check_rows(model, check_no, column, rule, failing) -%}
select '{{ column | replace("'", "''") }}' as column_name, '{{ rule | replace("'", "''") }}' as rule,
       ({{ column }})::varchar as value, {{ check_no }} as check_no
from {{ model }} where {{ failing }}
{%- endmacro %}

{% macro psw_check_repeated(model, columns, rule, where, nulls_fail, check_no) -%}
select '{{ columns | join(", ") | replace("'", "''") }}' as column_name, '{{ rule }}' as rule,
       concat_ws(', ', {% for column in columns %}({{ column }})::varchar{{ ", " if not loop.last }}{% endfor %}) as value,
       {{ check_no }} as check_no
from {{ model }} where {{ where }}
group by {{ columns | join(', ') }}
having count(*) > 1{% if nulls_fail %} or {{ columns[0] }} is null{% endif %}
{%- endmacro %}
