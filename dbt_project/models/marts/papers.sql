-- One row per paper (identity rule: see schema.yml / int_paper_identity).
--
-- Incremental per paper (delete+insert on paper_id): a run recomputes only the papers observed
-- in the change window (macros/incremental_state.sql; every column of a paper depends only on the
-- paper's own observations, attributes and topics); a changed taxonomy (primary_topic) makes the
-- pipeline rebuild everything (a changed seed is a code change). The post-hook deletes paper ids that no longer exist (a `title:` paper merged
-- into an arXiv paper).

{{
    config(
        materialized='incremental',
        unique_key='paper_id',
        post_hook="{{ delete_vanished_papers() }}"
    )
}}

{%- set paper_filter = touched_paper_filter('paper_id') if is_incremental() else 'true' %}

with

attributes as (

    select * from {{ ref('int_paper_attributes') }}
    where {{ paper_filter }}

),

observations as (

    select * from {{ ref('int_paper_observations') }}
    where {{ paper_filter }}

),

-- each paper's latest API abstract, as loaded: int_paper_attributes keeps only its key
api_abstracts as (

    select paper_id, summary
    from {{ latest_api_abstracts('attributes') }}

),

primary_topics as (

    select paper_id, topic
    from {{ ref('paper_topics') }}
    where is_primary and {{ paper_filter }}

),

observation_stats as (

    select
        paper_id,
        min(listing_date) as first_listed_on,
        max(listing_date) as last_listed_on,
        count(distinct listing_date) as listing_days,
        min(captured_at) as first_seen_at,
        max(captured_at) as last_seen_at,
        count(*) as observations,
        list(distinct source_format order by source_format) as sources,
        max(upvotes) as upvotes_max,
        count(upvotes) as upvote_captures,
        arg_max(upvotes, {captured_at: captured_at, snapshot_id: snapshot_id})
            filter (where upvotes is not null) as upvotes_latest,
        arg_min(upvotes, {captured_at: captured_at, snapshot_id: snapshot_id})
            filter (where upvotes is not null) as upvotes_first,
        max(captured_at) filter (where upvotes is not null) as upvotes_latest_at,
        min(captured_at) filter (where upvotes is not null) as upvotes_first_at,
        arg_max(num_comments, {captured_at: captured_at, snapshot_id: snapshot_id})
            filter (where num_comments is not null) as num_comments_latest

    from observations
    group by paper_id

),

final as (

    select
        cast(attributes.paper_id as varchar) as paper_id,
        cast(attributes.arxiv_id as varchar) as arxiv_id,
        cast(attributes.title as varchar) as title,
        cast(coalesce({{ collapse_whitespace('api_abstracts.summary') }}, attributes.card_summary) as varchar)
            as summary,
        cast(attributes.published_on as date) as published_on,
        cast(stats.first_listed_on as date) as first_listed_on,
        cast(stats.last_listed_on as date) as last_listed_on,
        cast(stats.listing_days as integer) as listing_days,
        cast(attributes.author_count as integer) as author_count,
        cast(stats.upvotes_latest as integer) as upvotes,
        cast(stats.upvotes_max as integer) as upvotes_max,
        cast(
            case
                when stats.upvote_captures >= 2 and stats.upvotes_latest_at > stats.upvotes_first_at
                    then (stats.upvotes_latest - stats.upvotes_first)
                        / (epoch(stats.upvotes_latest_at) - epoch(stats.upvotes_first_at)) * 86400.0
            end as double
        ) as upvote_velocity,
        cast(stats.num_comments_latest as integer) as num_comments,
        cast(attributes.github_repo as varchar) as github_repo,
        cast(attributes.github_stars as integer) as github_stars,
        cast(attributes.organization as varchar) as organization,
        cast(attributes.ai_keywords as varchar[]) as ai_keywords,
        cast(coalesce(primary_topics.topic, 'other') as varchar) as primary_topic,
        cast(stats.first_seen_at as timestamptz) as first_seen_at,
        cast(stats.last_seen_at as timestamptz) as last_seen_at,
        cast(stats.observations as integer) as observations,
        cast(stats.sources as varchar[]) as sources

    from attributes
    inner join observation_stats as stats on attributes.paper_id = stats.paper_id
    left join primary_topics on attributes.paper_id = primary_topics.paper_id
    left join api_abstracts on attributes.paper_id = api_abstracts.paper_id

)

select * from final
