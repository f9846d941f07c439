-- Per ISO week (Monday start) x topic, dense: every topic of the taxonomy (incl. `other`) gets a
-- row for every week that has at least one listed paper, so week-over-week series have no gaps.
-- papers / upvotes / shares count primary topics; mentions count papers having the topic among any
-- of their topics (paper_topics, primary or secondary).

with

membership as (

    select distinct
        cast(date_trunc('week', listing_date) as date) as week_start,
        paper_id

    from {{ ref('int_listing_papers') }}

),

papers as (

    select paper_id, upvotes, primary_topic
    from {{ ref('papers') }}

),

topics as (

    select distinct topic
    from {{ ref('topic_taxonomy') }}

),

weeks as (

    select distinct week_start from membership

),

by_topic as (

    select
        membership.week_start,
        papers.primary_topic as topic,
        count(*) as papers,
        coalesce(sum(papers.upvotes), 0) as upvotes

    from membership
    inner join papers on membership.paper_id = papers.paper_id
    group by membership.week_start, papers.primary_topic

),

mentioned as (

    select
        membership.week_start,
        paper_topics.topic,
        count(*) as mentions

    from membership
    inner join papers on membership.paper_id = papers.paper_id
    inner join {{ ref('paper_topics') }} as paper_topics on membership.paper_id = paper_topics.paper_id
    group by membership.week_start, paper_topics.topic

),

grid as (

    select
        weeks.week_start,
        topics.topic,
        coalesce(by_topic.papers, 0) as papers,
        coalesce(by_topic.upvotes, 0) as upvotes,
        coalesce(mentioned.mentions, 0) as mentions

    from weeks
    cross join topics
    left join by_topic
        on weeks.week_start = by_topic.week_start
        and topics.topic = by_topic.topic
    left join mentioned
        on weeks.week_start = mentioned.week_start
        and topics.topic = mentioned.topic

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
