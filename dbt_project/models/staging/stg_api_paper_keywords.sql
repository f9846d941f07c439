-- One row per API observation x ai_keyword (ai_keywords_json unnested), in listed order.
-- Incremental on snapshot_id: the observations of the change window (macros/incremental_state.sql);
-- `_dlt_load_id` marks them for the tests' where-config.

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='snapshot_id',
        on_schema_change='fail'
    )
}}

with

observations as (

    -- ai_keywords: ai_keywords_json already parsed by stg_api_paper_observations
    select snapshot_id, arxiv_id, listing_date, captured_at, ai_keywords, _dlt_load_id
    from {{ ref('stg_api_paper_observations') }}
    where ai_keywords_json is not null
    {% if is_incremental() %}
        and {{ in_window() }}
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
        _dlt_load_id,
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
        _dlt_load_id

    from unnested

)

select * from final
