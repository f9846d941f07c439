-- The unified observation stream: one row per paper per capture, API rows and page-text cards.
-- API rows key on the arXiv id; cards take their paper_id from int_paper_identity.
-- If one capture holds the same paper twice (two cards with one normalized title) the
-- best-ranked card is kept, so (paper_id, snapshot_id) is unique.
--
-- Incremental, whole snapshots at a time (delete+insert on snapshot_id). A run processes
--   * the snapshots of the change window (macros/incremental_state.sql), and
--   * page-text snapshots holding a card whose resolved paper_id changed since it was written
--     (an API row with the card's title arrived: the card now belongs to that arXiv paper).
-- _dlt_load_id: the row's load; for a card, the later of its own load and the load from which
-- its identity holds (int_paper_identity), so a re-keyed card counts as new in that window.
-- Downstream incremental models recompute what the window's rows touch.

{{ config(materialized='incremental', unique_key='snapshot_id') }}

{% if is_incremental() %}
{#- card snapshots holding a card whose resolved paper_id changed since it was written #}
{%- set rekeyed_snapshots %}
    select distinct existing.snapshot_id
    from {{ this }} as existing
    inner join {{ ref('int_paper_identity') }} as identity
        on existing.title_norm = identity.title_norm
    where existing.source_format = 'page_text'
        and existing.paper_id <> identity.paper_id
{%- endset %}
{% endif %}

with

api as (

    select
        arxiv_id as paper_id,
        arxiv_id,
        title_norm,
        listing_date,
        captured_at,
        snapshot_id,
        upvotes,
        num_comments,
        rank,
        source_format,
        _dlt_load_id

    from {{ ref('stg_api_paper_observations') }}
    {% if is_incremental() %}
    where {{ in_window() }}
    {% endif %}

),

cards as (

    select
        identity.paper_id,
        cast(null as varchar) as arxiv_id,
        cards.title_norm,
        cast(null as date) as listing_date,
        cards.captured_at,
        cards.snapshot_id,
        cast(null as integer) as upvotes,
        cards.num_comments,
        cards.rank,
        cards.source_format,
        greatest(cards._dlt_load_id, identity._dlt_load_id) as _dlt_load_id

    from {{ ref('stg_page_card_observations') }} as cards
    inner join {{ ref('int_paper_identity') }} as identity
        on cards.title_norm = identity.title_norm
    {% if is_incremental() %}
    where {{ in_window('cards._dlt_load_id') }}
        or cards.snapshot_id in ({{ rekeyed_snapshots }})
    {% endif %}

),

unioned as (

    select * from api
    union all
    select * from cards

),

deduplicated as (

    select *
    from unioned
    qualify row_number() over (partition by paper_id, snapshot_id order by rank) = 1

)

select * from deduplicated
