-- Listing membership: one row per (listing_date, paper) for every paper that appeared in at least
-- one capture of that date's listing (union over the date's captures). Page-text cards have no
-- listing date and never appear here.
--
-- Incremental per listing date (delete+insert on listing_date): a run recomputes the dates that
-- received observations in the change window (macros/incremental_state.sql).

{{ config(materialized='incremental', unique_key='listing_date') }}

with

{% if is_incremental() %}
affected_dates as (

    select distinct listing_date
    from {{ ref('int_paper_observations') }}
    where listing_date is not null
        and {{ in_window() }}

),
{% endif %}

observations as (

    select *
    from {{ ref('int_paper_observations') }}
    where listing_date is not null
    {% if is_incremental() %}
        and listing_date in (select listing_date from affected_dates)
    {% endif %}

),

membership as (

    select
        listing_date,
        paper_id,
        cast(count(*) as integer) as captures,
        min(captured_at) as first_captured_at,
        max(captured_at) as last_captured_at,
        arg_max(rank, {captured_at: captured_at, snapshot_id: snapshot_id}) as latest_rank

    from observations
    group by listing_date, paper_id

)

select * from membership
