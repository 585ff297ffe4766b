{#
  Every guarantee of one model in one data test (one dbt node instead of one per column and rule).
  Each failing row names the column, the rule and the offending value (and the rule's place in
  the arguments, check_no), so `psw build` can say `model.column = value: rule` in one line.
  The rules, each optional:
    primary_key: [col, ...]            never null, never repeated
    unique: [col or expression, ...]   never repeated (nulls allowed)
    not_null: [col, {col: where}, ...] never null (only on rows where `where` holds, when given)
    unique_combination: [[col, ...], {columns: [col, ...], where: ...}, ...]
    accepted_values: {col: [value, ...]}      nulls allowed
    within_range: {col: [min, max]}           inclusive; nulls allowed
    expression_true: {col: sql_expression}    fails where the expression is false or null
    relationships: {col: {to: ref('model'), field: col}}   every non-null value exists there
#}
{% test guarantees(model, primary_key=[], unique=[], not_null=[], unique_combination=[], accepted_values={},
                   within_range={}, expression_true={}, relationships={}) %}
{%- set checks = [] -%}
{%- for column in primary_key -%}
  {%- do checks.append(psw_check_repeated(model, [column], 'primary key: null or repeated', 'true', true, checks | length)) -%}
{%- endfor -%}
{%- for column in unique -%}
  {%- do checks.append(psw_check_repeated(model, [column], 'unique: repeated', column ~ ' is not null', false, checks | length)) -%}
{%- endfor -%}
{%- for item in not_null -%}
  {%- if item is mapping -%}{%- set column, where = (item | list)[0], item.values() | first -%}
  {%- else -%}{%- set column, where = item, 'true' -%}{%- endif -%}
  {%- do checks.append(psw_check_rows(model, checks | length, column, 'not null', column ~ ' is null and (' ~ where ~ ')')) -%}
{%- endfor -%}
{%- for item in unique_combination -%}
  {%- if item is mapping -%}{%- set columns, where = item.columns, item.get('where', 'true') -%}
  {%- else -%}{%- set columns, where = item, 'true' -%}{%- endif -%}
  {%- do checks.append(psw_check_repeated(model, columns, 'unique combination: repeated', where, false, checks | length)) -%}
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
  {%- set listed = [] -%}{%- for value in values -%}{%- do listed.append("'" ~ value ~ "'") -%}{%- endfor -%}
  {%- do checks.append(psw_check_rows(model, checks | length, column, 'not one of ' ~ values | join(', '),
        column ~ '::varchar not in (' ~ listed | join(', ') ~ ')')) -%}
{%- endfor -%}
{%- for column, bounds in within_range.items() -%}
  {%- do checks.append(psw_check_rows(model, checks | length, column, 'outside [' ~ bounds[0] ~ ', ' ~ bounds[1] ~ ']',
        column ~ ' < ' ~ bounds[0] ~ ' or ' ~ column ~ ' > ' ~ bounds[1])) -%}
{%- endfor -%}
{%- for column, expression in expression_true.items() -%}
  {%- do checks.append(psw_check_rows(model, checks | length, column, 'not true: ' ~ expression | trim,
        'not coalesce(' ~ expression ~ ', false)')) -%}
{%- endfor -%}
{%- for column, target in relationships.items() -%}
  {%- set table = (target.to | string).split('.')[-1] | replace('"', '') | replace('__dbt__cte__', '') -%}
  {%- do checks.append(psw_check_rows(model, checks | length, column, 'not found in ' ~ table ~ '.' ~ target.field,
        column ~ ' is not null and ' ~ column ~ ' not in (select ' ~ target.field ~ ' from ' ~ target.to ~ ')')) -%}
{%- endfor -%}
{{ checks | join('\nunion all\n') if checks else "select null::varchar as column_name, null::varchar as rule, null::varchar as value, 0 as check_no where false" }}
{% endtest %}
