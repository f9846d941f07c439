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

with

taxonomy as (

    select topic, term
    from {{ ref('topic_taxonomy') }}
    where term is not null and trim(term) <> ''

),

term_tokens as (

    select
        taxonomy.topic,
        taxonomy.term,
        cast(tok.pos as integer) as token_position,
        {{ singularize_token('tok.token') }} as token

    from taxonomy,
        unnest(string_split({{ normalize_for_matching('taxonomy.term') }}, ' ')) with ordinality as tok(token, pos)
    where tok.token <> ''

),

terms as (

    select
        topic,
        term,
        cast(count(*) as integer) as n_tokens,
        max(token) filter (where token_position = 1) as first_token

    from term_tokens
    group by topic, term

),

papers as (

    select paper_id, title, summary, ai_keywords
    from {{ ref('int_paper_attributes') }}
    {% if is_incremental() %}
    where {{ touched_paper_filter('paper_id', with_taxonomy=true) }}
    {% endif %}

),

fields as (

    select paper_id, 0 as field, title as text from papers
    union all
    select paper_id, 1 as field, summary as text from papers
    union all
    select papers.paper_id, 1 + cast(kw.pos as integer) as field, kw.keyword as text
    from papers, unnest(papers.ai_keywords) with ordinality as kw(keyword, pos)

),

-- every field tokenized once: (paper, field, position, plural-folded token)
paper_tokens as (

    select
        fields.paper_id,
        fields.field,
        cast(tok.pos as integer) as token_position,
        {{ singularize_token('tok.token') }} as token

    from fields,
        unnest(string_split({{ normalize_for_matching('fields.text') }}, ' ')) with ordinality as tok(token, pos)
    where tok.token <> ''

),

-- candidate occurrences: a paper token equals the first token of a term (equi-join)
candidates as (

    select
        paper_tokens.paper_id,
        paper_tokens.field,
        paper_tokens.token_position as start_position,
        terms.topic,
        terms.term,
        terms.n_tokens

    from paper_tokens
    inner join terms on paper_tokens.token = terms.first_token

),

-- a single-word term matches on the join alone; a multi-word term also needs each of its
-- following tokens at the following positions of the same field (equi-joins only)
verified as (

    select paper_id, topic, term
    from candidates
    where n_tokens = 1

    union all

    select
        multi.paper_id,
        multi.topic,
        multi.term

    from (select * from candidates where n_tokens > 1) as multi
    inner join term_tokens
        on multi.topic = term_tokens.topic
        and multi.term = term_tokens.term
        and term_tokens.token_position > 1
    inner join paper_tokens
        on multi.paper_id = paper_tokens.paper_id
        and multi.field = paper_tokens.field
        and paper_tokens.token_position = multi.start_position + term_tokens.token_position - 1
        and paper_tokens.token = term_tokens.token
    group by multi.paper_id, multi.field, multi.start_position, multi.topic, multi.term, multi.n_tokens
    having count(*) = multi.n_tokens - 1

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
