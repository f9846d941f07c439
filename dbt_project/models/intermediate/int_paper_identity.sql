-- Identity resolution for page-text cards (which carry no arXiv id).
-- One row per distinct normalized card title:
--   * paper_id = the arXiv id of an API observation with the same normalized title
--     (several arXiv ids with one normalized title: the smallest id, deterministically);
--   * otherwise paper_id = 'title:' || md5(normalized title), a pure function of the title,
--     so it is stable whatever else arrives (until an API row with that title arrives and
--     the card merges into the API paper).
-- _dlt_load_id: the load from which the resolution holds (the first load of an API row with the
-- title and the chosen arXiv id): the card observations it re-keys count as new from then on.

with

api_title_papers as (

    select
        title_norm,
        arxiv_id,
        min(_dlt_load_id) as _dlt_load_id

    from {{ ref('stg_api_paper_observations') }}
    where title_norm is not null and title_norm <> ''
        -- only titles some card has: the rest can never resolve a card (keeps the aggregate as
        -- small as the card titles, not as large as every API observation)
        and title_norm in (select title_norm from {{ ref('stg_page_card_observations') }})
    group by title_norm, arxiv_id

),

api_titles as (

    select
        title_norm,
        min(arxiv_id) as arxiv_id,
        arg_min(_dlt_load_id, arxiv_id) as _dlt_load_id

    from api_title_papers
    group by title_norm

),

card_titles as (

    select distinct title_norm
    from {{ ref('stg_page_card_observations') }}

),

resolved as (

    select
        card_titles.title_norm,
        coalesce(api_titles.arxiv_id, 'title:' || md5(card_titles.title_norm)) as paper_id,
        api_titles.arxiv_id is not null as is_merged_with_api,
        api_titles._dlt_load_id

    from card_titles
    left join api_titles on card_titles.title_norm = api_titles.title_norm

)

select * from resolved
