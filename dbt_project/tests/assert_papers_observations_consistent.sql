{{ config(meta={"dagster": {"ref": {"name": "papers"}}}) }}
-- papers.observations equals the paper's rows in paper_observations, and the latest upvotes
-- equal those of the latest capture that observed upvotes.
-- Checked for the papers of the change window (the ones the per-paper marts rewrote; older papers
-- were checked when written), plus all `title:` papers; a full build checks every paper.
with latest_papers as (
    select distinct paper_id
    from {{ ref('int_paper_observations') }}
    where {{ in_window() }}
    union
    -- plus every `title:` paper: one whose card merged into an arXiv paper must be gone
    select paper_id from {{ ref('papers') }} where starts_with(paper_id, 'title:')
),
obs as (
    select
        paper_id,
        count(*) as observations,
        arg_max(upvotes, {captured_at: captured_at, snapshot_id: snapshot_id})
            filter (where upvotes is not null) as upvotes_latest
    from {{ ref('paper_observations') }}
    where paper_id in (select paper_id from latest_papers)
    group by paper_id
),
papers as (
    select * from {{ ref('papers') }}
    where paper_id in (select paper_id from latest_papers)
)
select papers.paper_id
from papers
full outer join obs using (paper_id)
where papers.observations is distinct from obs.observations
   or papers.upvotes is distinct from obs.upvotes_latest
