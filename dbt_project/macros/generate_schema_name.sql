{# custom schemas verbatim (`+schema: marts` builds into `marts`, not `main_marts`), else the target schema #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ target.schema if custom_schema_name is none else custom_schema_name | trim }}
{%- endmacro %}
