-- Identity resolution for page-text cards (which carry no arXiv id).
-- One row per distinct normalized card title:
--   * paper_id = the arXiv id of an API observation with the same normalized title
--     (several arXiv ids with one normalized title: the smallest id, deterministically);
--   * otherwise paper_id = 'title:' || md5(normalized title), a pure function of the title,
--     so it is stable whatever else arrives (until an API row with that title arrives and
--     the card merges into the API paper).

with

api_titles as (

    select
        title_norm,
        min(arxiv_id) as arxiv_id

    from {{ ref('stg_api_paper_observations') }}
    where title_norm is not null and title_norm <> ''
        -- only titles some card has: the rest can never resolve a card (keeps the aggregate as
        -- small as the card titles, not as large as every API observation)
        and title_norm in (select title_norm from {{ ref('stg_page_card_observations') }})
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
        api_titles.arxiv_id is not null as is_merged_with_api

    from card_titles
    left join api_titles on card_titles.title_norm = api_titles.title_norm

)

select * from resolved
