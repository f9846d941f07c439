-- The abstracts of the API observations as loaded (not yet whitespace-collapsed), keyed like raw:
-- (source_format, snapshot_id, rank) is unique (the registry loads a snapshot once, into one raw
-- table; rank is the position in it).
--
-- A view, not a table: an abstract is ~1.2 kB and hourly captures repeat it in every observation,
-- while only each paper's latest one is ever read (`papers` and `paper_topics` join it by the key
-- int_paper_attributes keeps, and collapse whitespace after the join). Copying every abstract into
-- staging cost ~17 s per 1M observations (issue 5).

select
    'api_fetch' as source_format,
    snapshot_id,
    rank,
    arxiv_id,
    summary
from {{ raw_source('api_fetched_papers') }}

union all

select
    'api_file' as source_format,
    snapshot_id,
    rank,
    arxiv_id,
    summary
from {{ raw_source('landed_api_papers') }}
