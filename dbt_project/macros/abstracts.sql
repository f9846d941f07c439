{#
    latest_api_abstracts(attributes): (paper_id, summary), for each row of `attributes` (int_paper_attributes'
    paper_id and summary_* key), the API abstract that key points at, as loaded; papers without one are absent.
    A key matches several raw rows only when a snapshot was loaded twice into one raw table: the first pass
    picks one of them by rowid (keys only, no text), the second fetches that row's text.
#}
{% macro latest_api_abstracts(attributes) -%}
    (
        select picked.paper_id, abstracts.summary
        from (
            select keyed.paper_id, keyed.summary_source_format, min(rows.raw_rowid) as raw_rowid
            from {{ attributes }} as keyed
            inner join {{ ref('stg_api_paper_abstracts') }} as rows
                on keyed.summary_source_format = rows.source_format
                and keyed.summary_snapshot_id = rows.snapshot_id
                and keyed.summary_rank = rows.rank
            group by keyed.paper_id, keyed.summary_source_format
        ) as picked
        inner join {{ ref('stg_api_paper_abstracts') }} as abstracts
            on picked.summary_source_format = abstracts.source_format
            and picked.raw_rowid = abstracts.raw_rowid
    )
{%- endmacro %}
