-- The abstracts of the API observations as loaded (not yet whitespace-collapsed), keyed like raw:
-- (source_format, snapshot_id, rank) is an observation (rank is the position in the snapshot). The
-- registry loads a snapshot once, but a load repeated after a crash can put it in a raw table twice
-- (staging de-duplicates it), so consumers pick one row per key by raw_rowid (macro
-- latest_api_abstracts), a rowid valid within one query only.
--
-- A view, not a table: an abstract is ~1.2 kB and hourly captures repeat it in every observation,
-- while only each paper's latest one is ever read (`papers` and `paper_topics` join it by the key
-- int_paper_attributes keeps, and collapse whitespace after the join), so staging does not copy
-- every observation's abstract.

{% for source_format, table_name in api_raw_tables() %}
{{ 'union all' if not loop.first }}
select
    '{{ source_format }}' as source_format,
    snapshot_id,
    rank,
    arxiv_id,
    rowid as raw_rowid,
    summary
from {{ source_or_empty('raw', table_name) }}
{% endfor %}
