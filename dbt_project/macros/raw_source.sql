{#
    raw_source(table_name): the relation of source('raw', table_name), or - when the pipeline has
    not created that table yet (e.g. no API fetch ever ran, so raw.api_fetched_papers is absent) -
    an empty relation with the documented columns and types, so every model still builds.
    source() is always called, so lineage (and dagster-dbt's asset graph) is unchanged.
#}
{% macro raw_source(table_name) %}
    {{- return(source_or_empty('raw', table_name, raw_columns(table_name))) -}}
{% endmacro %}

{#
    source_or_empty(source_name, table_name, columns): source(source_name, table_name), or an empty
    relation of ``columns`` ([(name, type)]) when the table does not exist yet.
#}
{% macro source_or_empty(source_name, table_name, columns) %}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) is none -%}
        {%- set empty -%}
        (
            select
            {%- for name, data_type in columns %}
                cast(null as {{ data_type }}) as {{ name }}{{ "," if not loop.last }}
            {%- endfor %}
            limit 0
        )
        {%- endset -%}
        {{ return(empty) }}
    {%- endif -%}
    {{ return(relation) }}
{% endmacro %}

{% macro raw_columns(table_name) %}
    {%- set api = [
        ('snapshot_id', 'varchar'), ('source_uri', 'varchar'), ('listing_date', 'date'),
        ('captured_at', 'timestamptz'), ('rank', 'integer'), ('arxiv_id', 'varchar'),
        ('title', 'varchar'), ('summary', 'varchar'), ('authors_json', 'varchar'),
        ('author_count', 'integer'), ('published_at', 'timestamptz'), ('upvotes', 'integer'),
        ('num_comments', 'integer'), ('github_repo', 'varchar'), ('github_stars', 'integer'),
        ('project_page', 'varchar'), ('organization', 'varchar'), ('ai_keywords_json', 'varchar'),
        ('ai_summary', 'varchar'), ('submitted_on_daily_at', 'timestamptz'), ('submitted_by', 'varchar'), ('_dlt_load_id', 'varchar'),
    ] -%}
    {%- set cards = [
        ('snapshot_id', 'varchar'), ('source_uri', 'varchar'), ('captured_at', 'timestamptz'),
        ('rank', 'integer'), ('title', 'varchar'), ('summary', 'varchar'), ('author_count', 'integer'),
        ('published_on', 'date'), ('num_comments', 'integer'), ('_dlt_load_id', 'varchar'),
    ] -%}
    {%- if table_name == 'landed_page_cards' -%}
        {{ return(cards) }}
    {%- else -%}
        {{ return(api) }}
    {%- endif -%}
{% endmacro %}

{#
    raw_rowid(table_name): the expression of a raw row's rowid in a select from raw_source(table_name):
    `rowid`, or a typed NULL when the table does not exist yet (the empty stand-in has no rowid).
    A rowid identifies a row only within one query (DuckDB may renumber rows when a checkpoint
    vacuums deletions), so it is never stored.
#}
{% macro raw_rowid(table_name) -%}
    {%- set relation = source('raw', table_name) -%}
    {%- if execute and adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) is none -%}
        cast(null as bigint)
    {%- else -%}
        rowid
    {%- endif -%}
{%- endmacro %}
