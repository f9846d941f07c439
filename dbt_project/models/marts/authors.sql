-- One row per author name, from API snapshots only (page-text cards carry no names).
-- A paper's authors are those of its latest API observation; hidden authors are excluded;
-- names are whitespace-normalized (trimmed, inner runs collapsed) and otherwise kept as written.
--
-- Incremental per author name (delete+insert on author_name): an author's row depends only on the
-- papers listing them, so a run recomputes the names that any paper observed in the change window
-- lists in ANY of its API observations (a superset of its old and new author lists).
-- A recomputed name left without papers comes out with papers = 0 and the post-hook deletes it.

-- depends_on: {{ ref('int_paper_observations') }}  (the change window, macro touched_papers_sql)

{{
    config(
        materialized='incremental',
        unique_key='author_name',
        post_hook="{% if is_incremental() %}delete from {{ this }} where papers = 0{% endif %}"
    )
}}

{%- set paper_filter = touched_paper_filter('arxiv_id') if is_incremental() else none %}

with

{% if paper_filter is not none %}
affected_names as (

    select distinct author_name
    from {{ ref('stg_api_paper_authors') }}
    where author_name is not null and {{ paper_filter }}

),
{% endif %}

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
        {% if paper_filter is not none %}
        and authors.author_name in (select author_name from affected_names)
        {% endif %}

),

aggregated as (

    select
        paper_authors.author_name,
        count(*) as papers,
        min(papers.first_listed_on) as first_listed_on,
        max(papers.last_listed_on) as last_listed_on,
        coalesce(sum(papers.upvotes), 0) as upvotes_total

    from paper_authors
    inner join papers on paper_authors.paper_id = papers.paper_id
    group by paper_authors.author_name

),

{% if paper_filter is not none %}
-- every recomputed name, also those no paper lists any more (papers = 0, deleted by the post-hook)
scoped as (

    select
        names.author_name,
        coalesce(aggregated.papers, 0) as papers,
        aggregated.first_listed_on,
        aggregated.last_listed_on,
        coalesce(aggregated.upvotes_total, 0) as upvotes_total

    from affected_names as names
    left join aggregated on names.author_name = aggregated.author_name

),
{% else %}
scoped as (

    select * from aggregated

),
{% endif %}

final as (

    select
        cast(author_name as varchar) as author_name,
        cast(papers as integer) as papers,
        cast(first_listed_on as date) as first_listed_on,
        cast(last_listed_on as date) as last_listed_on,
        cast(upvotes_total as integer) as upvotes_total

    from scoped

)

select * from final
