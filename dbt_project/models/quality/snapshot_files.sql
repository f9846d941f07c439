-- Every file or fetch the pipeline recorded, without where the bytes are stored on the server.
with registry as (
    select * from {{ source_or_empty('ops', 'snapshot_files') }}
),

published as (
    select
        snapshot_id,
        source,
        source_uri,
        format,
        listing_date,
        captured_at,
        rows,
        status,
        reason,
        run_id,
        recorded_at
    from registry
)

select * from published
