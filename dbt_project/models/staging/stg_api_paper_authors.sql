-- One row per API observation x listed author (authors_json unnested), in listed order.
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

    select snapshot_id, arxiv_id, listing_date, captured_at, authors_json
    from {{ ref('stg_api_paper_observations') }}
    where authors_json is not null
    {% if is_incremental() %}
        and {{ new_snapshots_filter("(select snapshot_id from " ~ ref('stg_api_paper_observations') ~ " where authors_json is not null)") }}
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
        from_json(authors_json, '[{"name": "VARCHAR", "hidden": "BOOLEAN"}]') as authors

    from observations

),

listed as (

    select
        snapshot_id,
        arxiv_id,
        listing_date,
        captured_at,
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
        -- this dbt invocation: the rows a build added, for the tests' where-config
        {{ batch_stamp() }} as _batch_at

    from unnested

)

select * from final
