-- One row per API observation x listed author (authors_json unnested), in listed order.
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

    select snapshot_id, arxiv_id, listing_date, captured_at, authors_json, _dlt_load_id
    from {{ ref('stg_api_paper_observations') }}
    where authors_json is not null
    {% if is_incremental() %}
        and {{ in_window() }}
    {% endif %}

),

-- select-list unnest, position from generate_subscripts over the same list: a lateral
-- `from t, unnest(...) with ordinality` is an order of magnitude slower in DuckDB
parsed as (

    select
        snapshot_id,
        arxiv_id,
        listing_date,
        captured_at,
        _dlt_load_id,
        from_json(authors_json, '[{"name": "VARCHAR", "hidden": "BOOLEAN"}]') as authors

    from observations

),

listed as (

    select
        snapshot_id,
        arxiv_id,
        listing_date,
        captured_at,
        _dlt_load_id,
        cast(generate_subscripts(authors, 1) as integer) as author_position,
        unnest(authors) as entry

    from parsed

),

unnested as (

    select
        snapshot_id,
        arxiv_id,
        listing_date,
        captured_at,
        _dlt_load_id,
        author_position,
        entry.name as raw_name,
        coalesce(entry.hidden, false) as is_hidden

    from listed

),

final as (

    select
        snapshot_id,
        arxiv_id,
        listing_date,
        captured_at,
        author_position,
        {{ collapse_whitespace('raw_name') }} as author_name,
        is_hidden,
        _dlt_load_id

    from unnested

)

select * from final
