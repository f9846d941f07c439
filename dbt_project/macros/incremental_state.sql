{#
    The change window (orchestration/ops/ledger.py): a row is new when its `_dlt_load_id` (carried into
    the rows derived from it, see int_paper_identity) is after the newest load the last successful build
    took in (the `dbt` row of ops.watermarks). Full rebuilds run with `--full-refresh` and take everything.
    Read from the ledger, not passed as a var: a var that changes every run makes dbt re-parse the project.
#}

{# the newest load the last successful build took in ('' = everything is new) #}
{% macro loaded_after() -%}
    {%- if not execute or flags.FULL_REFRESH
        or adapter.get_relation(database=target.database, schema='ops', identifier='watermarks') is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set rows = run_query("select loaded_through from ops.watermarks where consumer = 'dbt'").rows -%}
    {{ return(rows[0][0] if rows else '') }}
{%- endmacro %}

{# SQL predicate: `column` (a load id) is in the window #}
{% macro in_window(column='_dlt_load_id') -%}
    {%- set after = loaded_after() -%}
    {{ column ~ " > '" ~ after | replace("'", "''") ~ "'" if after else 'true' }}
{%- endmacro %}

{% macro touched_papers_sql() -%}
    select distinct paper_id from {{ ref('int_paper_observations') }} where {{ in_window() }}
{%- endmacro %}

{# `column` (paper_id, snapshot_id) is one of int_paper_observations' rows in the window (named, not
   ref()'d: the tests' `where` configs use it, and dbt cannot infer a ref there) #}
{% macro observed_in_window(column) -%}
    {{ column }} in (select {{ column }} from intermediate.int_paper_observations where {{ in_window() }})
{%- endmacro %}

{# predicate of an incremental per-paper model: `column` is a paper observed in the window (logged) #}
{% macro touched_paper_filter(column) %}
    {%- if flags.WHICH in ('run', 'build') -%}
        {%- set n = run_query("select count(*) from (" ~ touched_papers_sql() ~ ")").rows[0][0] -%}
        {% do log(this.identifier ~ ": incremental, recomputing " ~ n ~ " paper(s)", info=true) %}
    {%- endif -%}
    {{ return(column ~ " in (" ~ touched_papers_sql() ~ ")") }}
{% endmacro %}

{# post-hook of per-paper incremental models: only a `title:` paper can vanish (its card merged into an
   arXiv paper; API observations are never removed), so only `title:` ids are checked #}
{% macro delete_vanished_papers() -%}
    delete from {{ this }}
    where starts_with(paper_id, 'title:')
        and paper_id not in (
            select distinct paper_id from {{ ref('int_paper_observations') }}
            where starts_with(paper_id, 'title:')
        )
{%- endmacro %}

{#
    listed_papers(columns): for a per-listing-date mart, one row per (listing_date, paper_id) of
    int_listing_papers with the paper's `columns` of `papers`. An incremental run recomputes every listing
    date of every paper observed in the window (a new capture changes its own date's membership and the
    paper's latest upvotes / author count / topic, which all of the paper's dates use): looked up when the
    model compiles and inlined (a short constant list) and logged.
#}
{% macro listed_papers(columns) -%}
    select membership.listing_date, membership.paper_id{% for column in columns %}, papers.{{ column }}{% endfor %}
    from {{ ref('int_listing_papers') }} as membership
    inner join {{ ref('papers') }} as papers on membership.paper_id = papers.paper_id
    {%- if is_incremental() %}
        {%- set dates = run_query("select distinct strftime(listing_date, '%Y-%m-%d') from " ~ ref('int_listing_papers')
            ~ " where paper_id in (" ~ touched_papers_sql() ~ ") order by 1").columns[0].values() | list %}
        {%- if flags.WHICH in ('run', 'build') %}
            {%- set shown = ": " ~ (dates[:10] | join(", ")) ~ (" ..." if dates | length > 10 else "") %}
            {%- do log(this.identifier ~ ": incremental, recomputing " ~ (dates | length) ~ " listing date(s)"
                       ~ (shown if dates else ""), info=true) %}
        {%- endif %}
    where {{ "membership.listing_date in (date '" ~ (dates | join("', date '")) ~ "')" if dates else "false" }}
    {%- endif %}
{%- endmacro %}

{#
    get_where_subquery (dbt's, overridden): a test's `where` config may name the window filters
    `{rows_in_window}`, `{papers_in_window}` and `{snapshots_in_window}`, so the data tests of the large
    tables check the window's rows only (a full build checks everything). dbt renders yml configs before
    project macros exist, so they are expanded here, when the test compiles.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if not where -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set where = where | replace('{rows_in_window}', in_window())
        | replace('{papers_in_window}', observed_in_window('paper_id'))
        | replace('{snapshots_in_window}', observed_in_window('snapshot_id')) -%}
    {{ return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') }}
{%- endmacro %}
