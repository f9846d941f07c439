{#
    api_observation_items(list_column, items, position): one row per item (`item`, its 1-based `position`)
    of the list `items` (an expression over the columns of stg_api_paper_observations) of each observation
    whose `list_column` is not NULL (in an incremental run, of the window's observations), with the
    observation's snapshot_id, arxiv_id, listing_date, captured_at and _dlt_load_id.
    A select-list unnest: a lateral `from t, unnest(...) with ordinality` is an order of magnitude slower.
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
