{#- The judges' mean score per `keys` x criterion under the newest rubric that scored it (the rubric
    of its newest usable judgment): an edited rubric is a new rubric, whose scores take the old ones'
    place and are never averaged with them. `judgments`: a CTE of usable judgments with `keys`,
    criterion, prompt_hash (the rubric), score and created_at. Shared by the steered generations'
    scores (int_steering_scores) and the pair completions' (pair_response_scores). -#}
{% macro newest_rubric_scores(judgments, keys) -%}
    select
        {%- for key in keys %}
        newest.{{ key }},
        {%- endfor %}
        newest.criterion,
        newest.rubric_hash,
        avg({{ judgments }}.score) as score,
        count(*) as n_judgments,
    from (
        select {{ keys | join(', ') }}, criterion,
               first(prompt_hash order by created_at desc, prompt_hash) as rubric_hash,
        from {{ judgments }}
        group by {{ keys | join(', ') }}, criterion
    ) as newest
    inner join {{ judgments }}
        on {% for key in keys %}{{ judgments }}.{{ key }} = newest.{{ key }} and {% endfor -%}
        {{ judgments }}.criterion = newest.criterion
        and {{ judgments }}.prompt_hash = newest.rubric_hash
    group by all
{%- endmacro %}
