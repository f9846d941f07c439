{#
    topic_counts(listed, period): per (period, topic) of `listed` (one row per period x listed paper: `period`,
    paper_id, primary_topic, upvotes): `papers` and their `upvotes` summed, of the papers whose primary topic it
    is, and `mentions`, of the papers having it among any of their topics (paper_topics). Only the pairs with
    papers or mentions.
#}
{% macro topic_counts(listed, period) -%}
    select
        coalesce(by_topic.{{ period }}, mentioned.{{ period }}) as {{ period }},
        coalesce(by_topic.topic, mentioned.topic) as topic,
        coalesce(by_topic.papers, 0) as papers,
        coalesce(by_topic.upvotes, 0) as upvotes,
        coalesce(mentioned.mentions, 0) as mentions

    from (
        select {{ period }}, primary_topic as topic, count(*) as papers, coalesce(sum(upvotes), 0) as upvotes
        from {{ listed }}
        group by {{ period }}, primary_topic
    ) as by_topic
    full outer join (
        select listed.{{ period }}, paper_topics.topic, count(*) as mentions
        from {{ listed }} as listed
        inner join {{ ref('paper_topics') }} as paper_topics on listed.paper_id = paper_topics.paper_id
        group by listed.{{ period }}, paper_topics.topic
    ) as mentioned
        on by_topic.{{ period }} = mentioned.{{ period }}
        and by_topic.topic = mentioned.topic
{%- endmacro %}
