-- Public upvote/comment/rank history: one row per paper per capture.
-- Incremental, whole snapshots at a time (delete+insert on snapshot_id): a run copies the
-- snapshots holding rows of the change window (macros/incremental_state.sql) - new snapshots and
-- card snapshots whose paper identity changed (their old rows are replaced).

{{ config(materialized='incremental', unique_key='snapshot_id') }}

with

observations as (

    select * from {{ ref('int_paper_observations') }}
    {% if is_incremental() %}
    where {{ observed_in_window('snapshot_id') }}
    {% endif %}

),

final as (

    select
        cast(paper_id as varchar) as paper_id,
        cast(listing_date as date) as listing_date,
        cast(captured_at as timestamptz) as captured_at,
        cast(snapshot_id as varchar) as snapshot_id,
        cast(upvotes as integer) as upvotes,
        cast(num_comments as integer) as num_comments,
        cast(rank as integer) as rank,
        cast(source_format as varchar) as source_format

    from observations

)

select * from final
