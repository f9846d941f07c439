-- One row per API observation x ai_keyword (ai_keywords_json unnested), in listed order.
-- Incremental on snapshot_id: only observations of snapshots not yet unnested here. `_batch_at`
-- marks the rows each build added (tests check those; a warehouse built before the column has
-- NULL there: appended by on_schema_change, never re-tested).

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='snapshot_id',
        on_schema_change='append_new_columns'
    )
}}

with

observations as (

    -- ai_keywords: ai_keywords_json already parsed by stg_api_paper_observations
    select snapshot_id, arxiv_id, listing_date, captured_at, ai_keywords
    from {{ ref('stg_api_paper_observations') }}
    where ai_keywords_json is not null
    {% if is_incremental() %}
        and {{ new_snapshots_filter("(select snapshot_id from " ~ ref('stg_api_paper_observations') ~ " where ai_keywords_json is not null)") }}
    {% endif %}

),

-- select-list unnest, position from generate_subscripts over the same list: a lateral
-- `from t, unnest(...) with ordinality` is an order of magnitude slower in DuckDB
unnested as (

    select
        snapshot_id,
        arxiv_id,
        listing_date,
        captured_at,
        cast(generate_subscripts(ai_keywords, 1) as integer) as keyword_position,
        unnest(ai_keywords) as raw_keyword

    from observations

),

final as (

    select
        snapshot_id,
        arxiv_id,
        listing_date,
        captured_at,
        keyword_position,
        {{ collapse_whitespace('raw_keyword') }} as keyword,
        -- this dbt invocation: the rows a build added, for the tests' where-config
        {{ batch_stamp() }} as _batch_at

    from unnested

)

select * from final
