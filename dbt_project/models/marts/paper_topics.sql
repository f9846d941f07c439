-- Topic assignment by word-boundary term matching (tokenize once, join tokens to term tokens).
-- Text of a paper = its title, abstract and each ai_keyword, tokenized separately (a phrase never
-- matches across a field boundary). Tokens: lower case, accents stripped, split on every run of
-- characters other than a-z/0-9, simple plural folding (macro singularize_token), identical for
-- paper text and taxonomy terms. A multi-word term matches when its tokens appear consecutively.
--
-- Incremental per paper (delete+insert on paper_id): a run re-matches only the papers observed
-- since this mart's watermark (their text may have changed); a changed taxonomy re-matches all.
-- Rows of paper ids that no longer exist (a `title:` paper merged into an arXiv paper) are
-- deleted by the post-hook.

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='paper_id',
        on_schema_change='fail',
        post_hook=[
            "{{ delete_vanished_papers() }}",
            "{{ record_mart_watermark(with_taxonomy=true) }}"
        ]
    )
}}

{%- set paper_filter = touched_paper_filter('paper_id', with_taxonomy=true) if is_incremental() else 'true' %}
{#- the longest taxonomy term, in tokens: multi-word terms are verified element by element #}
{%- set max_tokens = max_term_tokens(ref('topic_taxonomy')) %}

with

taxonomy as (

    select topic, term
    from {{ ref('topic_taxonomy') }}
    where term is not null and trim(term) <> ''

),

-- each term tokenized like the paper text: (topic, term, position, plural-folded token)
term_tokens as (

    select
        topic,
        term,
        cast(generate_subscripts(raw_tokens, 1) as integer) as token_position,
        unnest(raw_tokens) as raw_token

    from (select topic, term, {{ matching_tokens('term') }} as raw_tokens from taxonomy)

),

-- token_forms[k]: every raw token that folds to the term's k-th token f, so a paper token is
-- checked by a list lookup rather than by folding it (~100M candidates at 1M). A raw token r folds
-- to f only as r = f, f || 's' or left(f, -1) || 'ies' (macro singularize_token), so the three
-- forms, kept where they really fold to f, are all of them.
terms as (

    select
        topic,
        term,
        cast(count(*) as integer) as n_tokens,
        max(token) filter (where token_position = 1) as first_token,
        list(token order by token_position) as tokens,
        list(token_forms order by token_position) as token_forms

    from (
        select
            topic,
            term,
            token_position,
            token,
            list_filter(
                [token, token || 's', left(token, length(token) - 1) || 'ies'],
                lambda form: {{ singularize_token('form') }} = token
            ) as token_forms
        from (select topic, term, token_position, {{ singularize_token('raw_token') }} as token from term_tokens)
    )
    group by topic, term

),

-- each term keyed by every raw form of its first token: the paper token stream then joins on raw
-- tokens, and only candidate matches are checked further
term_starts as (

    select *, unnest(token_forms[1]) as raw_first_token
    from terms

),

-- the papers to (re)match, with the key of their latest API abstract (no text)
attributes as (

    select paper_id, title, summary_source_format, summary_snapshot_id, summary_rank, card_summary, ai_keywords
    from {{ ref('int_paper_attributes') }}
    where {{ paper_filter }}

),

papers as (

    select paper_id
    from attributes

),

-- one row per field: 1 = title, 2 = abstract, 3.. = each ai_keyword (never matched across fields);
-- the abstract is joined as loaded by the key int_paper_attributes keeps (as in `papers`; collapsing
-- its whitespace would not change its tokens)
fields as (

    select
        attributes.paper_id,
        unnest(list_concat(
            [attributes.title, coalesce(api_abstracts.summary, attributes.card_summary)],
            attributes.ai_keywords)) as text

    from attributes
    left join {{ latest_api_abstracts('attributes') }} as api_abstracts
        on attributes.paper_id = api_abstracts.paper_id

),

-- every field tokenized once, kept as a list (raw, not yet plural-folded) ...
field_tokens as (

    select paper_id, {{ matching_tokens('text') }} as raw_tokens
    from fields

),

-- ... and streamed one row per token (select-list unnest: a lateral `from t, unnest(...)` is
-- an order of magnitude slower in DuckDB). The field's token list rides along by reference.
paper_tokens as (

    select
        paper_id,
        raw_tokens,
        cast(generate_subscripts(raw_tokens, 1) as integer) as token_position,
        unnest(raw_tokens) as raw_token

    from field_tokens

),

-- candidate occurrences: a paper token is a raw form of the first token of a term (equi-join
-- against the small term table: the token stream is never materialized, only its matches come out). A
-- single-word term matches on the join alone; a multi-word term also needs its k-th token at the
-- candidate's position + k - 1 of the same field to be a raw form of the term's k-th token
-- (element k of the field's token list rides along by reference; element-wise checks up to the
-- longest term, no lambda per candidate). Terms starting with common words ("language model")
-- make about half of all paper tokens candidates, so this check is kept to one list lookup.
verified as (

    select
        paper_tokens.paper_id,
        terms.topic,
        terms.term

    from paper_tokens
    inner join term_starts as terms on paper_tokens.raw_token = terms.raw_first_token
    where terms.n_tokens <= {{ max_tokens }}
    {%- for k in range(2, max_tokens + 1) %}
        and (terms.n_tokens < {{ k }}
             or list_contains(terms.token_forms[{{ k }}], paper_tokens.raw_tokens[paper_tokens.token_position + {{ k - 1 }}]))
    {%- endfor %}

),

topic_matches as (

    select
        paper_id,
        topic,
        cast(count(distinct term) as integer) as matched_terms

    from verified
    group by paper_id, topic

),

ranked as (

    select
        paper_id,
        topic,
        matched_terms,
        row_number() over (partition by paper_id order by matched_terms desc, topic asc) = 1 as is_primary

    from topic_matches

),

unmatched as (

    select
        papers.paper_id,
        'other' as topic,
        0 as matched_terms,
        true as is_primary

    from papers
    anti join topic_matches on papers.paper_id = topic_matches.paper_id

),

final as (

    select
        cast(paper_id as varchar) as paper_id,
        cast(topic as varchar) as topic,
        cast(matched_terms as integer) as matched_terms,
        cast(is_primary as boolean) as is_primary
    from ranked

    union all

    select
        cast(paper_id as varchar),
        cast(topic as varchar),
        cast(matched_terms as integer),
        cast(is_primary as boolean)
    from unmatched

)

select * from final
