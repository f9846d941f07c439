-- Files and fetches that were rejected, with the reason.
with registry as (
    select * from {{ ref('snapshot_files') }}
),

quarantined as (
    select
        recorded_at,
        run_id,
        source,
        source_uri,
        format,
        listing_date,
        captured_at,
        reason,
        snapshot_id
    from registry
    where status = 'quarantined'
)

select * from quarantined
