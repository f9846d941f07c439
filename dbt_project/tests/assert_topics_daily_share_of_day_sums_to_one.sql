{{ config(meta={"dagster": {"ref": {"name": "topics_daily"}}}) }}
-- share_of_day is defined on primary topics, so it sums to 1 for every listing date, and the
-- topics' papers add up to the date's papers in authors_daily.
with per_day as (
    select listing_date, sum(share_of_day) as share_total, sum(papers) as papers
    from {{ ref('topics_daily') }}
    group by listing_date
)
select per_day.*, authors_daily.papers as listed_papers
from per_day
full outer join {{ ref('authors_daily') }} as authors_daily using (listing_date)
where abs(coalesce(per_day.share_total, 0) - 1) > 1e-9
   or per_day.papers is distinct from authors_daily.papers
