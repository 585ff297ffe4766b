-- The cheap lexical checks of generated pairs (artifacts and `psw collect`), beside the judges:
-- content-token overlap of the two completions, repeated tokens in each, refusal phrases and
-- persona echo phrases found in each (macros/lexical.sql). Exported pairs carry their own.
-- The persona text a pole was given: none for the control arm, the template filled with the
-- descriptor, or for an engineered template the pair's long persona text (from the artifact's
-- axis, else from the persona-pair candidates).
with pairs as (
    select pair_id, persona_pair_id, template_text, pos_persona, neg_persona, pos_response, neg_response, extra,
    from {{ ref('stg_raw__pairs') }}
    where not is_generation_error
),

candidates as (
    select persona_pair_id, pos_persona_text, neg_persona_text,
    from {{ ref('stg_raw__persona_pairs') }}
),

persona_texts as (
    select
        pairs.*,
        {%- for pole in ['pos', 'neg'] %}
        case {{ template_kind('pairs.template_text') }}
            when 'control' then ''
            when 'persona' then replace(pairs.template_text, '{persona}', pairs.{{ pole }}_persona)
            else coalesce(pairs.extra ->> '$.axis.{{ pole }}_persona', candidates.{{ pole }}_persona_text)
        end as {{ pole }}_persona_text,
        {%- endfor %}
    from pairs
    left join candidates using (persona_pair_id)
),

tokens as (
    select
        *,
        {{ content_tokens('pos_response') }} as pos_tokens,
        {{ content_tokens('neg_response') }} as neg_tokens,
    from persona_texts
)

select
    pair_id,
    {{ token_jaccard('pos_tokens', 'neg_tokens') }} as response_token_jaccard,
    {{ repeated_token_frac('pos_tokens') }} as pos_repeated_token_frac,
    {{ repeated_token_frac('neg_tokens') }} as neg_repeated_token_frac,
    {{ refusal_phrase_hits('pos_response') }} as pos_refusal_phrase_hits,
    {{ refusal_phrase_hits('neg_response') }} as neg_refusal_phrase_hits,
    {{ persona_echo_hits('pos_response', 'pos_persona', 'pos_persona_text') }} as pos_persona_echo_hits,
    {{ persona_echo_hits('neg_response', 'neg_persona', 'neg_persona_text') }} as neg_persona_echo_hits,
from tokens
