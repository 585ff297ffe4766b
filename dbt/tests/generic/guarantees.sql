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
                  {col: {between: [min, max], where: ...}}  only on rows where `where` holds
    expression_true: {col: sql_expression}    fails where the expression is false or null
    relationships: {col: {to: ref('model'), field: col}}   every non-null value exists there
#}
{% test guarantees(model, primary_key=[], unique=[], not_null=[], unique_combination=[], accepted_values={},
                   within_range={}, expression_true={}, relationships={}) %}
{{ psw_guarantee_checks(model, primary_key, unique, not_null, unique_combination, accepted_values,
                        within_range, expression_true, relationships) }}
{% endtest %}
