{{ config(meta={"dagster": {"ref": {"name": "papers"}}}) }}
-- Every paper has exactly one primary topic, equal to papers.primary_topic.
-- Checked for the papers of the change window (the ones the per-paper marts rewrote; older papers
-- were checked when written); a full build checks every paper.
with latest_papers as (
    select distinct paper_id
    from {{ ref('int_paper_observations') }}
    where {{ in_window() }}
)
select papers.paper_id, count(paper_topics.paper_id) as primaries
from {{ ref('papers') }} as papers
left join {{ ref('paper_topics') }} as paper_topics
    on papers.paper_id = paper_topics.paper_id and paper_topics.is_primary
where papers.paper_id in (select paper_id from latest_papers)
group by papers.paper_id, papers.primary_topic
having count(paper_topics.paper_id) <> 1
    or max(paper_topics.topic) is distinct from papers.primary_topic
