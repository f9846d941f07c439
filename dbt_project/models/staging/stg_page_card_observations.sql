-- One row per card per page-text capture. Cards have no arXiv id, no upvotes, no listing date.
-- Incremental on snapshot_id (the change window's snapshots; delete+insert replaces a re-processed one).

{{ config(materialized='incremental', unique_key='snapshot_id') }}

with

source as (

    select * from {{ source_or_empty('raw', 'landed_page_cards') }}
    {% if is_incremental() %}
    where {{ in_window() }}
    {% endif %}

),

deduplicated as (

    select *
    from source
    qualify row_number() over (partition by snapshot_id, rank order by title) = 1

),

renamed as (

    select
        snapshot_id,
        'page_text' as source_format,
        source_uri,
        captured_at,
        rank,
        {{ collapse_whitespace('title') }} as title,
        {{ normalize_title('title') }} as title_norm,
        {{ collapse_whitespace('summary') }} as summary,
        author_count,
        published_on,
        coalesce(num_comments, 0) as num_comments,
        _dlt_load_id

    from deduplicated

)

select * from renamed
