-- Per listing date x topic: papers listed that date (union over its captures) whose primary topic
-- it is, their latest upvotes, and their share of the date's papers; separately, the papers that
-- mention the topic among any of their topics (paper_topics, primary or secondary): macro
-- topic_counts.
-- Incremental per listing date (delete+insert on listing_date): a run recomputes only the listing
-- dates of papers observed in the change window (macro listed_papers; the dbt log
-- names them) `dbt build --full-refresh` recomputes everything.

-- depends_on: {{ ref('int_paper_observations') }}  (the change window, macro touched_papers_sql)

{{ config(materialized='incremental', unique_key='listing_date') }}

with

-- the papers listed on the dates this run computes (macro listed_papers)
listed as (

    {{ listed_papers(['primary_topic', 'upvotes']) }}

),

counts as (

    {{ topic_counts('listed', 'listing_date') }}

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

    from counts

)

select * from final
