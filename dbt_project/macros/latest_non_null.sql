{#
    latest_non_null(columns): in a select grouped by paper over rows numbered by `_recency` (higher =
    later), each column's latest non-NULL value, under the column's own name (NULL when every row's
    is NULL).
#}
{% macro latest_non_null(columns) -%}
    {%- for column in columns %}
        arg_max({{ column }}, _recency) filter (where {{ column }} is not null) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
