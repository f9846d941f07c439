{#
    api_observation_items(list_column, items, position): one row per item of a list of each API
    observation (stg_api_paper_observations) whose `list_column` is not NULL - in an incremental
    run only the observations of the change window (macros/incremental_state.sql): the
    observation's snapshot_id, arxiv_id, listing_date, captured_at and _dlt_load_id, the item's
    1-based position in the list (named `position`) and the item (`item`). `items` is the list
    expression, over the observation's columns.

    A select-list unnest, its position from generate_subscripts over the same list: a lateral
    `from t, unnest(...) with ordinality` is an order of magnitude slower in DuckDB.
#}
{% macro api_observation_items(list_column, items, position) -%}
    select
        snapshot_id,
        arxiv_id,
        listing_date,
        captured_at,
        _dlt_load_id,
        cast(generate_subscripts(items, 1) as integer) as {{ position }},
        unnest(items) as item

    from (
        select snapshot_id, arxiv_id, listing_date, captured_at, _dlt_load_id, {{ items }} as items
        from {{ ref('stg_api_paper_observations') }}
        where {{ list_column }} is not null
        {% if is_incremental() %}
            and {{ in_window() }}
        {% endif %}
    )
{%- endmacro %}
