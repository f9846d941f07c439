{{ config(meta={"dagster": {"ref": {"name": "papers"}}}) }}
-- Every paper has exactly one primary topic, equal to papers.primary_topic.
select papers.paper_id, count(paper_topics.paper_id) as primaries
from {{ ref('papers') }} as papers
left join {{ ref('paper_topics') }} as paper_topics
    on papers.paper_id = paper_topics.paper_id and paper_topics.is_primary
group by papers.paper_id, papers.primary_topic
having count(paper_topics.paper_id) <> 1
    or max(paper_topics.topic) is distinct from papers.primary_topic
