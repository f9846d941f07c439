-- Topic assignment by weighted evidence, with word-boundary term matching (tokenize
-- once, join tokens to term tokens).
-- Text of a paper = its title, abstract and each ai_keyword, tokenized separately (a phrase never
-- matches across a field boundary). Tokens: lower case, accents stripped, split on every run of
-- characters other than a-z/0-9, simple plural folding (macro singularize_token), identical for
-- paper text and taxonomy terms. A multi-word term matches when its tokens appear consecutively.
--
-- Scoring (seeds topic_taxonomy: topic, term, weight; topics: topic, base_score; field weights, the
-- abstract count cap and the secondary rule in vars.topic_scoring of dbt_project.yml):
--   points(term)        = weight * (title_weight if found in the title
--                                   + abstract_weight * its occurrences in the abstract, at most
--                                     abstract_count_cap
--                                   + keywords_weight if in any ai_keyword)
--                         a negative weight is evidence against the topic
--   score(paper, topic) = base_score(topic) + sum of the points of the topic's terms found
-- Candidates are the topics with at least one term found, plus `other` (its score is the bar every
-- other topic must clear). Primary = highest score; ties go to more title points, then more matched
-- terms, then the slug. Every other candidate except `other` whose score is at least the primary's
-- minus secondary_margin AND at least `other`'s score plus secondary_over_other is assigned too
-- (is_primary = false).
--
{{
    config(
        materialized='incremental',
        unique_key='paper_id',
        post_hook="{{ delete_vanished_papers() }}"
    )
}}

{%- set paper_filter = touched_paper_filter('paper_id') if is_incremental() else 'true' %}
{#- the longest taxonomy term, in tokens (at least 1): multi-word terms are verified element by element #}
{%- set max_tokens = [run_query("select max(len(" ~ matching_tokens('term') ~ ")) from " ~ ref('topic_taxonomy'))
                      .rows[0][0] | int, 1] | max if execute else 1 %}
{%- set scoring = var('topic_scoring') %}

with

taxonomy as (

    select topic, term, weight
    from {{ ref('topic_taxonomy') }}
    where term is not null and trim(term) <> '' and weight is not null and weight <> 0

),

-- topics numbered in slug order: the heavy steps below group, rank and join by these numbers
topics as (

    select topic, base_score, cast(row_number() over (order by topic) as integer) as topic_id
    from {{ ref('topics') }}

),

other as (

    select topic_id, cast(base_score as decimal(18, 6)) as base_score
    from topics
    where topic = 'other'

),

-- each term tokenized like the paper text: (topic, term, position, plural-folded token)
term_tokens as (

    select
        topic,
        term,
        weight,
        cast(generate_subscripts(raw_tokens, 1) as integer) as token_position,
        unnest(raw_tokens) as raw_token

    from (select topic, term, weight, {{ matching_tokens('term') }} as raw_tokens from taxonomy)

),

-- token_forms[k]: every raw token that folds to the term's k-th token f, so a paper token is
-- checked by a list lookup rather than by folding it (~100M candidates at 1M). A raw token r folds
-- to f only as r = f, f || 's' or left(f, -1) || 'ies' (macro singularize_token), so the three
-- forms, kept where they really fold to f, are all of them.
terms as (

    select
        cast(row_number() over (order by topic, term) as integer) as term_id,
        topic,
        term,
        any_value(weight) as weight,
        cast(count(*) as integer) as n_tokens,
        max(token) filter (where token_position = 1) as first_token,
        list(token order by token_position) as tokens,
        list(token_forms order by token_position) as token_forms

    from (
        select
            topic,
            term,
            weight,
            token_position,
            token,
            list_filter(
                [token, token || 's', left(token, length(token) - 1) || 'ies'],
                lambda form: {{ singularize_token('form') }} = token
            ) as token_forms
        from (select topic, term, weight, token_position, {{ singularize_token('raw_token') }} as token from term_tokens)
    )
    group by topic, term

),

-- each term's number, its topic's and its weight (a term of a topic not in the topics seed is never
-- a candidate)
term_keys as (

    select terms.term_id, topics.topic_id, terms.weight
    from terms
    inner join topics on terms.topic = topics.topic

),

-- each term keyed by every raw form of its first token: the paper token stream then joins on raw
-- tokens, and only candidate matches are checked further
term_starts as (

    select *, unnest(token_forms[1]) as raw_first_token
    from terms

),

-- the papers to (re)match, with the key of their latest API abstract (no text). The steps below key
-- a paper by its row in int_paper_attributes (paper_no, DuckDB's rowid, stable within this statement)
-- instead of its paper_id text: narrower rows to hash, group, sort and spill; `final` maps it back
attributes as (

    select
        rowid as paper_no,
        paper_id, title, summary_source_format, summary_snapshot_id, summary_rank, card_summary, ai_keywords
    from {{ ref('int_paper_attributes') }}
    where {{ paper_filter }}

),

papers as (

    select paper_no
    from attributes

),

-- one row per field: 1 = title, 2 = abstract, 3.. = each ai_keyword (never matched across fields);
-- field_no keeps which;
-- the abstract is joined as loaded by the key int_paper_attributes keeps (as in `papers`; collapsing
-- its whitespace would not change its tokens)
fields as (

    select
        paper_no,
        cast(generate_subscripts(texts, 1) as integer) as field_no,
        unnest(texts) as text

    from (
        select
            attributes.paper_no,
            list_concat(
                [attributes.title, coalesce(api_abstracts.summary, attributes.card_summary)],
                attributes.ai_keywords) as texts
        from attributes
        left join {{ latest_api_abstracts('attributes') }} as api_abstracts
            on attributes.paper_id = api_abstracts.paper_id
    )

),

-- every field tokenized once, kept as a list (raw, not yet plural-folded) ...
field_tokens as (

    select paper_no, field_no, {{ matching_tokens('text') }} as raw_tokens
    from fields

),

-- ... and streamed one row per token (select-list unnest: a lateral `from t, unnest(...)` is
-- an order of magnitude slower in DuckDB). The field's token list rides along by reference.
paper_tokens as (

    select
        paper_no,
        field_no,
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
        paper_tokens.paper_no,
        paper_tokens.field_no,
        terms.term_id

    from paper_tokens
    inner join term_starts as terms on paper_tokens.raw_token = terms.raw_first_token
    where terms.n_tokens <= {{ max_tokens }}
    {%- for k in range(2, max_tokens + 1) %}
        and (terms.n_tokens < {{ k }}
             or list_contains(terms.token_forms[{{ k }}], paper_tokens.raw_tokens[paper_tokens.token_position + {{ k - 1 }}]))
    {%- endfor %}

),

-- one row per (paper, topic, term found): in which fields, how often in the abstract, and its
-- points (grouped by the term's number; its text is joined to the assigned topics' terms only). Points are
-- exact decimals, so their sums (and the ranking and secondary rules on them) do not depend on the
-- order DuckDB's threads add them in
term_points as (

    select
        found.paper_no,
        term_keys.topic_id,
        found.term_id,
        found.in_title,
        found.abstract_count,
        found.in_keywords,
        cast(term_keys.weight as decimal(18, 6)) * (
            case when found.in_title then {{ scoring.title_weight }} else 0 end
            + {{ scoring.abstract_weight }} * found.abstract_count
            + case when found.in_keywords then {{ scoring.keywords_weight }} else 0 end
        ) as points,
        case when found.in_title then cast(term_keys.weight as decimal(18, 6)) * {{ scoring.title_weight }} else 0 end as title_points

    from (
        select
            paper_no,
            term_id,
            bool_or(field_no = 1) as in_title,
            cast(least(count(*) filter (where field_no = 2), {{ scoring.abstract_count_cap }}) as integer) as abstract_count,
            bool_or(field_no >= 3) as in_keywords
        from verified
        group by paper_no, term_id
    ) as found
    inner join term_keys on found.term_id = term_keys.term_id

),

-- per (paper, topic): its matched terms and points (the evidence string is built below, for the
-- assigned topics only: most candidates are not assigned)
topic_matches as (

    select
        paper_no,
        topic_id,
        cast(count(*) as integer) as matched_terms,
        sum(points) as term_points,
        sum(title_points) as title_points

    from term_points
    group by paper_no, topic_id

),

-- the candidates: topics with evidence, and `other` for every paper (at its base score when none
-- of its own terms were found)
candidates as (

    select
        topic_matches.paper_no,
        topic_matches.topic_id,
        topic_matches.matched_terms,
        cast(topics.base_score as decimal(18, 6)) + topic_matches.term_points as score,
        topic_matches.title_points

    from topic_matches
    inner join topics on topic_matches.topic_id = topics.topic_id

    union all

    select
        papers.paper_no,
        other.topic_id,
        0 as matched_terms,
        other.base_score as score,
        0 as title_points

    from papers
    cross join other
    anti join topic_matches
        on papers.paper_no = topic_matches.paper_no and topic_matches.topic_id = other.topic_id

),

ranked as (

    select
        *,
        row_number() over (
            partition by paper_no
            order by score desc, title_points desc, matched_terms desc, topic_id asc) = 1 as is_primary,
        max(score) over (partition by paper_no) as primary_score,
        max(score) filter (where topic_id = (select topic_id from other)) over (partition by paper_no) as other_score

    from candidates

),

assigned as (

    select paper_no, topic_id, matched_terms, is_primary, score
    from ranked
    where is_primary
        or (topic_id <> (select topic_id from other)
            and score >= primary_score - {{ scoring.secondary_margin }}
            and score >= other_score + {{ scoring.secondary_over_other }})

),

-- the evidence of each assigned topic, strongest first (then by term), as "term [fields] points".
-- The list gathered per (paper, topic) holds numbers only, sorted by (-points, term_id): a topic's
-- terms are numbered in term order (term_id), so that is "then by term"; each element becomes text
-- after the sort, its term looked up by number in the taxonomy's list of terms (term_list)
term_list as (

    select list(term order by term_id) as terms
    from terms

),

evidence as (

    select
        found.paper_no,
        found.topic_id,
        array_to_string(list_transform(found.terms, lambda t: term_list.terms[t.term_id] || ' ['
            || concat_ws('+',
                case when t.in_title then 'title' end,
                case when t.abstract_count = 1 then 'abstract'
                     when t.abstract_count > 1 then 'abstract x' || t.abstract_count end,
                case when t.in_keywords then 'keywords' end)
            || '] ' || printf('%.2f', -t.by_points)), ', ') as evidence

    from (
        select
            term_points.paper_no,
            term_points.topic_id,
            list_sort(list(struct_pack(
                by_points := -term_points.points,
                term_id := term_points.term_id,
                in_title := term_points.in_title,
                abstract_count := term_points.abstract_count,
                in_keywords := term_points.in_keywords))) as terms
        from term_points
        semi join assigned
            on term_points.paper_no = assigned.paper_no and term_points.topic_id = assigned.topic_id
        group by term_points.paper_no, term_points.topic_id
    ) as found
    cross join term_list

),

final as (

    select
        cast(keyed.paper_id as varchar) as paper_id,
        cast(topics.topic as varchar) as topic,
        cast(assigned.matched_terms as integer) as matched_terms,
        cast(assigned.is_primary as boolean) as is_primary,
        cast(round(assigned.score, 4) as double) as score,
        cast(evidence.evidence as varchar) as evidence

    from assigned
    inner join {{ ref('int_paper_attributes') }} as keyed on assigned.paper_no = keyed.rowid
    inner join topics on assigned.topic_id = topics.topic_id
    left join evidence
        on assigned.paper_no = evidence.paper_no and assigned.topic_id = evidence.topic_id

)

select * from final
