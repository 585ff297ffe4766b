{#- Upstream's cheap lexical checks (v3_protocol.md), written once. The stopwords and refusal
    phrases are vars (dbt_project.yml); every check reads the completion text only. -#}

{#- Content tokens: lower-cased [A-Za-z']+ words longer than two letters, stopwords left out. -#}
{% macro content_tokens(text) -%}
    list_filter(
        list_transform(regexp_extract_all(coalesce({{ text }}, ''), '[A-Za-z'']+'), lambda word: lower(word)),
        lambda word: length(word) > 2 and not list_contains({{ sql_text_list(var('lexical_stopwords')) }}, word))
{%- endmacro %}

{#- |set(a) & set(b)| / |set(a) | set(b)| over two token lists; 1.0 when both are empty. -#}
{% macro token_jaccard(tokens_a, tokens_b) -%}
    case when len({{ tokens_a }}) + len({{ tokens_b }}) = 0 then 1.0
         else len(list_intersect({{ tokens_a }}, {{ tokens_b }}))
              / len(list_distinct(list_concat({{ tokens_a }}, {{ tokens_b }}))) end
{%- endmacro %}

{#- 1 - distinct / count over one token list; 0.0 when it is empty. -#}
{% macro repeated_token_frac(tokens) -%}
    case when len({{ tokens }}) = 0 then 0.0 else 1.0 - len(list_distinct({{ tokens }})) / len({{ tokens }}) end
{%- endmacro %}

{#- The refusal phrases found in the lower-cased text, in the list's order. -#}
{% macro refusal_phrase_hits(text) -%}
    list_filter({{ sql_text_list(var('refusal_phrases')) }},
        lambda phrase: contains(lower(coalesce({{ text }}, '')), phrase))
{%- endmacro %}

{#- Persona echo patterns (word-bounded, lower case, '-' read as ' ') that match the text, named
    by the pattern as upstream names them (the descriptor escaped as Python's re.escape does),
    plus 'verbatim_persona_instruction' when the whole persona text occurs in the response. -#}
{% macro persona_echo_hits(text, descriptor, persona_text) -%}
    list_filter(
        list_transform(
            ['\bas an? ', '\bas the ', '\bi am an? ', '\bi''m an? ', '\bas someone who is '],
            lambda lead: lead || regexp_replace({{ strip("replace(lower(coalesce(" ~ descriptor ~ ", '')), '-', ' ')") }},
                '([()\[\]{}?*+\-|^$\\.&~# \t\n\r\v\f])', '\\\1', 'g') || '\b'),
        lambda pattern: regexp_matches(replace(lower(coalesce({{ text }}, '')), '-', ' '), pattern))
    || case when {{ persona_instruction(persona_text) }} <> ''
              and contains(replace(lower(coalesce({{ text }}, '')), '-', ' '), {{ persona_instruction(persona_text) }})
            then ['verbatim_persona_instruction'] else []::varchar[] end
{%- endmacro %}

{% macro persona_instruction(persona_text) -%}
    replace(lower({{ strip('coalesce(' ~ persona_text ~ ", '')") }}), '-', ' ')
{%- endmacro %}

{#- Leading and trailing whitespace removed (Python's str.strip). -#}
{% macro strip(text) -%}
    regexp_replace({{ text }}, '^\s+|\s+$', '', 'g')
{%- endmacro %}

{#- The kind of a template: 'control' (no persona text: the baseline arm), 'persona' (a
    `{persona}` slot) or 'engineered' (no slot: the pair's long persona texts are used whole). -#}
{% macro template_kind(template_text) -%}
    case when {{ template_text }} = '' then 'control'
         when contains({{ template_text }}, '{persona}') then 'persona'
         else 'engineered' end
{%- endmacro %}
