{#
    source_or_empty(source_name, table_name): source(source_name, table_name), or an empty relation
    of the columns and types its source declares when the table does not exist yet (a raw table
    nothing was loaded into, e.g. no API fetch ever ran; an ops table the pipeline has not written
    yet), so every model still builds. source() is always called: lineage (and dagster-dbt's asset
    graph) is the same either way.
#}
{% macro source_or_empty(source_name, table_name) %}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) is none -%}
        {%- set empty -%}
        (
            select
            {%- for name, data_type in source_columns(source_name, table_name) %}
                cast(null as {{ data_type }}) as {{ name }}{{ "," if not loop.last }}
            {%- endfor %}
            limit 0
        )
        {%- endset -%}
        {{ return(empty) }}
    {%- endif -%}
    {{ return(relation) }}
{% endmacro %}

{# source_columns(source_name, table_name): [(name, data_type)] of a source table as declared
   (the graph exists once dbt executes; at parse time the list is not needed) #}
{% macro source_columns(source_name, table_name) %}
    {%- set columns = [] -%}
    {%- if not execute -%}
        {{ return(columns) }}
    {%- endif -%}
    {%- for node in graph.sources.values() if node.source_name == source_name and node.name == table_name -%}
        {%- for column in node.columns.values() -%}
            {%- do columns.append((column.name, column.data_type)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(columns) }}
{% endmacro %}

{#
    raw_rowid(table_name): the expression of a raw row's rowid in a select from
    source_or_empty('raw', table_name): `rowid`, or a typed NULL when the table does not exist yet
    (the empty stand-in has no rowid).
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

{#
    api_raw_tables(): the raw tables of API rows, as (source_format, table_name): rows the pipeline
    fetched from the API (`api_fetch`) and rows of landed API snapshot files (`api_file`). Both have
    the columns of _sources.yml's api_fetched_papers; staging reads them as one union.
#}
{% macro api_raw_tables() %}
    {{- return([('api_fetch', 'api_fetched_papers'), ('api_file', 'landed_api_papers')]) -}}
{% endmacro %}
