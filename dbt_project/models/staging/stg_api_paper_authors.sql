-- One row per API observation x listed author (authors_json unnested), in listed order.
-- Incremental on snapshot_id: the observations of the change window (macro api_observation_items);
-- `_dlt_load_id` marks them for the tests' where-config.

{{ config(materialized='incremental', unique_key='snapshot_id') }}

with

listed as (

    {{ api_observation_items('authors_json', "from_json(authors_json, '[{\"name\": \"VARCHAR\", \"hidden\": \"BOOLEAN\"}]')",
                             'author_position') }}

),

final as (

    select
        snapshot_id,
        arxiv_id,
        listing_date,
        captured_at,
        author_position,
        {{ collapse_whitespace('item.name') }} as author_name,
        coalesce(item.hidden, false) as is_hidden,
        _dlt_load_id

    from listed

)

select * from final
