{#
    source_or_empty(source_name, table_name): source(source_name, table_name), or, while that table does not
    exist yet (a raw table nothing was loaded into, e.g. no API fetch ever ran; an ops table the pipeline has
    not written yet), an empty relation of the columns and types its source declares, so every model still
    builds. The stand-in also has the `rowid` a table has (NULL). source() is always called: lineage (and
    dagster-dbt's asset graph) is the same either way.
#}
{% macro source_or_empty(source_name, table_name) %}
    {%- set relation = source(source_name, table_name) -%}
    {%- if not execute or adapter.get_relation(relation.database, relation.schema, relation.identifier) -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set node = graph.sources['source.' ~ project_name ~ '.' ~ source_name ~ '.' ~ table_name] -%}
    {%- set columns = [] -%}
    {%- for column in node.columns.values() -%}
        {%- do columns.append('cast(null as ' ~ column.data_type ~ ') as ' ~ column.name) -%}
    {%- endfor -%}
    {{ return('(select ' ~ columns | join(', ') ~ ', cast(null as bigint) as rowid limit 0)') }}
{% endmacro %}

{# the raw tables of API rows, as (source_format, table_name): rows fetched by the pipeline and rows of
   landed API snapshot files, both with the columns of api_fetched_papers; staging reads them as one union #}
{% macro api_raw_tables() %}
    {{- return([('api_fetch', 'api_fetched_papers'), ('api_file', 'landed_api_papers')]) -}}
{% endmacro %}
