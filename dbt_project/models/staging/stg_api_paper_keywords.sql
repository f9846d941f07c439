-- One row per API observation x ai_keyword (ai_keywords_json unnested), in listed order.
-- Incremental on snapshot_id: the observations of the change window (macro api_observation_items);
-- `_dlt_load_id` marks them for the tests' where-config.

{{ config(materialized='incremental', unique_key='snapshot_id') }}

with

-- ai_keywords: ai_keywords_json already parsed by stg_api_paper_observations
listed as (

    {{ api_observation_items('ai_keywords_json', 'ai_keywords', 'keyword_position') }}

),

final as (

    select
        snapshot_id,
        arxiv_id,
        listing_date,
        captured_at,
        keyword_position,
        {{ collapse_whitespace('item') }} as keyword,
        _dlt_load_id

    from listed

)

select * from final
