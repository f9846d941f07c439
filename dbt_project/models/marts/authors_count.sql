-- Team-size distribution over ALL papers (page-text cards included: their "N authors").

with

papers as (

    select author_count, upvotes
    from {{ ref('papers') }}
    where author_count is not null

),

distribution as (

    select
        author_count,
        count(*) as papers,
        median(upvotes) as upvotes_median

    from papers
    group by author_count

),

final as (

    select
        cast(author_count as integer) as author_count,
        cast(papers as integer) as papers,
        cast(papers / sum(papers) over () as double) as share_of_papers,
        cast(upvotes_median as double) as upvotes_median

    from distribution

)

select * from final
