-- Per listing date x topic: papers listed that date (union over its captures) whose primary topic
-- it is, their latest upvotes, and their share of the date's papers; separately, the papers that
-- mention the topic among any of their topics (paper_topics, primary or secondary).
-- Incremental per listing date (delete+insert on listing_date): a run recomputes only the listing
-- dates of papers observed in the change window (macro affected_listing_dates; the dbt log
-- names them) `dbt build --full-refresh` recomputes everything.

-- depends_on: {{ ref('int_paper_observations') }}  (the change window, macro touched_papers_sql)

{{ config(materialized='incremental', unique_key='listing_date') }}

{% set affected_dates = affected_listing_dates() if is_incremental() else none %}

with

membership as (

    select listing_date, paper_id
    from {{ ref('int_listing_papers') }}
    where {{ listing_date_filter('listing_date', affected_dates) }}

),

papers as (

    select paper_id, upvotes, primary_topic
    from {{ ref('papers') }}

),

listed as (

    select
        membership.listing_date,
        papers.primary_topic as topic,
        papers.upvotes

    from membership
    inner join papers on membership.paper_id = papers.paper_id

),

by_topic as (

    select
        listing_date,
        topic,
        count(*) as papers,
        coalesce(sum(upvotes), 0) as upvotes

    from listed
    group by listing_date, topic

),

-- any-topic mentions: every topic row of every listed paper
mentioned as (

    select
        membership.listing_date,
        paper_topics.topic,
        count(*) as mentions

    from membership
    inner join papers on membership.paper_id = papers.paper_id
    inner join {{ ref('paper_topics') }} as paper_topics on membership.paper_id = paper_topics.paper_id
    group by membership.listing_date, paper_topics.topic

),

combined as (

    select
        coalesce(by_topic.listing_date, mentioned.listing_date) as listing_date,
        coalesce(by_topic.topic, mentioned.topic) as topic,
        coalesce(by_topic.papers, 0) as papers,
        coalesce(by_topic.upvotes, 0) as upvotes,
        coalesce(mentioned.mentions, 0) as mentions

    from by_topic
    full outer join mentioned
        on by_topic.listing_date = mentioned.listing_date
        and by_topic.topic = mentioned.topic

),

final as (

    select
        cast(listing_date as date) as listing_date,
        cast(topic as varchar) as topic,
        cast(papers as integer) as papers,
        cast(upvotes as integer) as upvotes,
        cast(papers / sum(papers) over (partition by listing_date) as double) as share_of_day,
        cast(mentions as integer) as mentions,
        cast(mentions / sum(papers) over (partition by listing_date) as double) as mention_share

    from combined

)

select * from final
