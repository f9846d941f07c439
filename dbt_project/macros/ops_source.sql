{#
    An ops table written by the pipeline (ops.snapshot_files, ops.validation_results), or an empty
    relation of the same columns when the table does not exist yet (a warehouse dbt builds before
    anything was recorded).
#}
{% macro ops_source(table_name) %}
    {{- return(source_or_empty('ops', table_name, ops_columns(table_name))) -}}
{% endmacro %}

{% macro ops_columns(table_name) %}
    {%- set tables = {
        'snapshot_files': [
            ('snapshot_id', 'varchar'), ('source', 'varchar'), ('source_uri', 'varchar'),
            ('stored_path', 'varchar'), ('format', 'varchar'), ('listing_date', 'date'),
            ('captured_at', 'timestamptz'), ('rows', 'integer'), ('status', 'varchar'),
            ('reason', 'varchar'), ('run_id', 'varchar'), ('recorded_at', 'timestamptz'),
            ('file_pending', 'boolean'),
        ],
        'validation_results': [
            ('run_id', 'varchar'), ('suite', 'varchar'), ('table_name', 'varchar'),
            ('evaluated', 'integer'), ('failed', 'integer'), ('success', 'boolean'),
            ('failed_expectations', 'varchar'), ('validated_at', 'timestamptz'),
            ('report_path', 'varchar'), ('rows', 'bigint'), ('scope', 'varchar'),
        ],
    } -%}
    {{ return(tables[table_name]) }}
{% endmacro %}
