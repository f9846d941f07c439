-- Per listing date: team sizes of the papers listed that date (union over its captures).
-- Incremental per listing date (delete+insert on listing_date): a run recomputes only the listing
-- dates of papers observed in the change window (macro listed_papers; the dbt log
-- names them). `dbt build --full-refresh` recomputes everything.

-- depends_on: {{ ref('int_paper_observations') }}  (the change window, macro touched_papers_sql)

{{ config(materialized='incremental', unique_key='listing_date') }}

with

-- the papers listed on the dates this run computes (macro listed_papers)
listed as (

    {{ listed_papers(['author_count']) }}

),

final as (

    select
        cast(listing_date as date) as listing_date,
        cast(count(*) as integer) as papers,
        cast(sum(author_count) as integer) as authors_total,
        cast(avg(author_count) as double) as authors_mean,
        cast(median(author_count) as double) as authors_median,
        cast(max(author_count) as integer) as authors_max,
        cast(count(*) filter (where author_count = 1) as integer) as team_solo,
        cast(count(*) filter (where author_count between 2 and 3) as integer) as team_2_3,
        cast(count(*) filter (where author_count between 4 and 6) as integer) as team_4_6,
        cast(count(*) filter (where author_count between 7 and 10) as integer) as team_7_10,
        cast(count(*) filter (where author_count between 11 and 20) as integer) as team_11_20,
        cast(count(*) filter (where author_count >= 21) as integer) as team_21_plus

    from listed
    group by listing_date

)

select * from final
