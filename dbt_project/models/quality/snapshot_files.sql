-- Every file or fetch the pipeline recorded, without where the bytes are stored on the server.
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
from {{ source_or_empty('ops', 'snapshot_files') }}
