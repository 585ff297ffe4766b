{#- Cheap lexical style measures of one text (steered_outputs), written once. Words are the
    project's word rule (word_count: [A-Za-z']+ matches); everything here reads the text only. -#}

{#- Sentences: the pieces between runs of . ! ? followed by white space (or the end) that hold a letter. -#}
{% macro sentence_count(text) -%}
    len(list_filter(regexp_split_to_array(coalesce({{ text }}, ''), '[.!?]+(?:\s+|$)'),
                    lambda piece: regexp_matches(piece, '[A-Za-z]')))
{%- endmacro %}

{#- How often one character occurs in the text. -#}
{% macro char_count(text, character) -%}
    (length(coalesce({{ text }}, '')) - length(replace(coalesce({{ text }}, ''), '{{ character }}', '')))
{%- endmacro %}

{#- Words (lower-cased [A-Za-z']+ matches) that are in var('first_person_words'). -#}
{% macro first_person_count(text) -%}
    len(list_filter(regexp_extract_all(lower(coalesce({{ text }}, '')), '[a-z'']+'),
                    lambda word: list_contains({{ sql_text_list(var('first_person_words')) }}, word)))
{%- endmacro %}

{#- Lines that start (after indentation) with a bullet (- * + •) or a number and . or ), then a space. -#}
{% macro list_line_count(text) -%}
    len(regexp_extract_all(coalesce({{ text }}, ''), '(?m)^[ \t]*(?:[-*+•]|\d+[.)])[ \t]+'))
{%- endmacro %}
