-- Descriptive attributes of each paper: the latest non-null value over its API observations (arg_max
-- skips NULL values), falling back to its page-text cards for papers (or fields) the API never gave.
-- "Latest" = greatest (captured_at, snapshot_id), so ties between captures resolve deterministically.
--
-- The abstract is not copied here: only the key of the API observation holding the latest one
-- (summary_source_format, summary_snapshot_id, summary_rank: its key in the view
-- stg_api_paper_abstracts) and, for papers the API gave no abstract, the latest card abstract
-- (card_summary). The consumers (papers, paper_topics) fetch the text with macro
-- latest_api_abstracts: ~1.2 kB per paper written once fewer.
--
-- Incremental per paper (delete+insert on paper_id): a run recomputes the papers observed in the
-- change window (macros/incremental_state.sql);
-- the post-hook drops paper ids that no longer exist (a `title:` paper merged into an arXiv id).

{{
    config(
        materialized='incremental',
        unique_key='paper_id',
        on_schema_change='sync_all_columns',
        post_hook="{{ delete_vanished_papers() }}"
    )
}}

with

{% if is_incremental() %}
touched_papers as (

    {{ touched_papers_sql() }}

),
{% endif %}

-- _recency orders a paper's observations by (captured_at, snapshot_id): "latest" below is
-- arg_max(..., _recency). An integer key instead of a struct key: the ten arg_max aggregates are
-- several times faster (unique per paper: (snapshot_id, arxiv_id) is unique in staging; two cards
-- of one paper in one capture: the best-ranked one counts as the latest).
-- The window sees only the columns aggregated below (the abstract enters as a boolean).
api_observations as (

    select
        *,
        row_number() over (partition by arxiv_id order by captured_at, snapshot_id) as _recency
    from (
        select
            arxiv_id,
            snapshot_id,
            captured_at,
            title,
            source_format,
            rank,
            has_summary,
            published_on,
            author_count,
            github_repo,
            github_stars,
            organization,
            ai_keywords
        from {{ ref('stg_api_paper_observations') }}
        {% if is_incremental() %}
        where arxiv_id in (select paper_id from touched_papers)
        {% endif %}
    )

),

card_observations as (

    select
        identity.paper_id,
        cards.*,
        row_number() over (partition by identity.paper_id order by cards.captured_at, cards.snapshot_id, cards.rank desc) as _recency

    from {{ ref('stg_page_card_observations') }} as cards
    inner join {{ ref('int_paper_identity') }} as identity
        on cards.title_norm = identity.title_norm
    {% if is_incremental() %}
    where identity.paper_id in (select paper_id from touched_papers)
    {% endif %}

),

api_latest as (

    select
        arxiv_id as paper_id,
        -- the abstract's observation, not the abstract: a ~1 kB string per aggregate state made
        -- this model ~5x slower
        arg_max(snapshot_id, _recency) filter (where has_summary) as summary_snapshot_id,
        arg_max(source_format, _recency) filter (where has_summary) as summary_source_format,
        arg_max(rank, _recency) filter (where has_summary) as summary_rank,
        arg_max(snapshot_id, _recency) as latest_snapshot_id,
        arg_max(columns(['title', 'published_on', 'author_count', 'github_repo', 'github_stars', 'organization',
                         'ai_keywords']), _recency)

    from api_observations
    group by arxiv_id

),

card_latest as (

    select
        paper_id,
        arg_max(columns(['title', 'summary', 'published_on', 'author_count']), _recency)

    from card_observations
    group by paper_id

),

paper_ids as (

    select paper_id from api_latest
    union
    select paper_id from card_latest

),

final as (

    select
        paper_ids.paper_id,
        api_latest.paper_id as arxiv_id,
        coalesce(api_latest.title, card_latest.title) as title,
        api_latest.summary_source_format,
        api_latest.summary_snapshot_id,
        api_latest.summary_rank,
        case when api_latest.summary_snapshot_id is null then card_latest.summary end as card_summary,
        coalesce(api_latest.published_on, card_latest.published_on) as published_on,
        coalesce(api_latest.author_count, card_latest.author_count) as author_count,
        api_latest.latest_snapshot_id as latest_api_snapshot_id,
        api_latest.github_repo,
        api_latest.github_stars,
        api_latest.organization,
        api_latest.ai_keywords

    from paper_ids
    left join api_latest on paper_ids.paper_id = api_latest.paper_id
    left join card_latest on paper_ids.paper_id = card_latest.paper_id

)

select * from final
