-- One row per author name, from API snapshots only (page-text cards carry no names).
-- A paper's authors are those of its latest API observation; hidden authors are excluded;
-- names are whitespace-normalized (trimmed, inner runs collapsed) and otherwise kept as written.

with

papers as (

    select paper_id, first_listed_on, last_listed_on, upvotes
    from {{ ref('papers') }}
    where arxiv_id is not null

),

attributes as (

    select paper_id, latest_api_snapshot_id
    from {{ ref('int_paper_attributes') }}
    where latest_api_snapshot_id is not null

),

paper_authors as (

    select distinct
        authors.arxiv_id as paper_id,
        authors.author_name

    from {{ ref('stg_api_paper_authors') }} as authors
    inner join attributes
        on authors.arxiv_id = attributes.paper_id
        and authors.snapshot_id = attributes.latest_api_snapshot_id
    where not authors.is_hidden
        and authors.author_name is not null

),

final as (

    select
        cast(paper_authors.author_name as varchar) as author_name,
        cast(count(*) as integer) as papers,
        cast(min(papers.first_listed_on) as date) as first_listed_on,
        cast(max(papers.last_listed_on) as date) as last_listed_on,
        cast(coalesce(sum(papers.upvotes), 0) as integer) as upvotes_total

    from paper_authors
    inner join papers on paper_authors.paper_id = papers.paper_id
    group by paper_authors.author_name

)

select * from final
