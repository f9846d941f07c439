-- Per ISO week (Monday start) x topic, dense: every topic of the taxonomy (incl. `other`) gets a
-- row for every week that has at least one listed paper, so week-over-week series have no gaps.
-- papers / upvotes / shares count primary topics; mentions count papers having the topic among any
-- of their topics (paper_topics, primary or secondary): macro topic_counts.

with

membership as (

    select distinct
        cast(date_trunc('week', listing_date) as date) as week_start,
        paper_id

    from {{ ref('int_listing_papers') }}

),

listed as (

    select
        membership.week_start,
        papers.paper_id,
        papers.primary_topic,
        papers.upvotes

    from membership
    inner join {{ ref('papers') }} as papers on membership.paper_id = papers.paper_id

),

topics as (

    select distinct topic
    from {{ ref('topic_taxonomy') }}

),

weeks as (

    select distinct week_start from membership

),

counts as (

    {{ topic_counts('listed', 'week_start') }}

),

grid as (

    select
        weeks.week_start,
        topics.topic,
        coalesce(counts.papers, 0) as papers,
        coalesce(counts.upvotes, 0) as upvotes,
        coalesce(counts.mentions, 0) as mentions

    from weeks
    cross join topics
    left join counts
        on weeks.week_start = counts.week_start
        and topics.topic = counts.topic

),

with_previous as (

    select
        current_week.*,
        previous_week.papers as previous_papers,
        previous_week.upvotes as previous_upvotes

    from grid as current_week
    left join grid as previous_week
        on previous_week.week_start = cast(current_week.week_start - interval 7 day as date)
        and previous_week.topic = current_week.topic

),

final as (

    select
        cast(week_start as date) as week_start,
        cast(topic as varchar) as topic,
        cast(papers as integer) as papers,
        cast(upvotes as integer) as upvotes,
        cast(coalesce(papers / nullif(sum(papers) over (partition by week_start), 0), 0) as double) as share_of_week,
        cast(papers - previous_papers as integer) as papers_change_wow,
        cast(upvotes - previous_upvotes as integer) as upvotes_change_wow,
        cast(mentions as integer) as mentions,
        cast(coalesce(mentions / nullif(sum(papers) over (partition by week_start), 0), 0) as double) as mention_share

    from with_previous

)

select * from final
