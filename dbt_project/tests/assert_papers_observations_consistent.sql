{{ config(meta={"dagster": {"ref": {"name": "papers"}}}) }}
-- papers.observations equals the paper's rows in paper_observations, and the latest upvotes
-- equal those of the latest capture that observed upvotes.
with obs as (
    select
        paper_id,
        count(*) as observations,
        arg_max(upvotes, {captured_at: captured_at, snapshot_id: snapshot_id})
            filter (where upvotes is not null) as upvotes_latest
    from {{ ref('paper_observations') }}
    group by paper_id
)
select papers.paper_id
from {{ ref('papers') }} as papers
full outer join obs using (paper_id)
where papers.observations is distinct from obs.observations
   or papers.upvotes is distinct from obs.upvotes_latest
