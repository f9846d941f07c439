{#
    Incremental bookkeeping: the change ledger's window (orchestration/ops/ledger.py).

    Every raw row carries the `_dlt_load_id` of the dlt load that wrote it, and the rows derived
    from it carry it along (a card's observation: the later of its own load and the load that
    resolved its title to an arXiv paper, see int_paper_identity). The ledger's `dbt` row in
    ops.watermarks holds the newest load the last successful build took in (the pipeline records
    it after the build); a row is new when its load id is after that. Full rebuilds (first build,
    changed models / seeds / vars, `papers rebuild`) run with `--full-refresh` and take everything.
    The window is read from the ledger, not passed as a var: a var that changes every run would
    make dbt re-parse the whole project every run.

    Each incremental model recomputes what the new rows touch (whole snapshots, papers, listing
    dates or author names) and logs it, e.g. `topics_daily: incremental, recomputing 1 listing
    date(s): 2026-08-21`. The data tests of the large tables check the rows of the window only
    (`where: "{papers_in_window}"`, expanded by get_where_subquery below): a full build checks everything.
#}

{# the newest load the last successful build took in ('' = everything is new) #}
{% macro loaded_after() -%}
    {%- if not execute or flags.FULL_REFRESH -%}
        {{ return('') }}
    {%- endif -%}
    {%- if adapter.get_relation(database=target.database, schema='ops', identifier='watermarks') is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set rows = run_query("select loaded_through from ops.watermarks where consumer = 'dbt'").rows -%}
    {{ return(rows[0][0] if rows else '') }}
{%- endmacro %}

{# SQL predicate: `column` (a load id) is in the window #}
{% macro in_window(column='_dlt_load_id') -%}
    {%- set after = loaded_after() -%}
    {%- if after == '' -%}
        true
    {%- else -%}
        {{ column }} > '{{ after | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}

{# papers observed in the window #}
{% macro touched_papers_sql() -%}
    select distinct paper_id from {{ ref('int_paper_observations') }} where {{ in_window() }}
{%- endmacro %}

{# filter: `column` (paper_id, snapshot_id) is one of int_paper_observations' rows in the window #}
{% macro observed_in_window(column) -%}
    {{ column }} in (select {{ column }} from intermediate.int_paper_observations where {{ in_window() }})
{%- endmacro %}

{#
    touched_paper_filter(column): SQL predicate for an incremental per-paper model:
    `column in (papers observed in the window)`. Logs how many papers it recomputes.
#}
{% macro touched_paper_filter(column) %}
    {%- if execute and flags.WHICH in ('run', 'build') -%}
        {%- set n = run_query("select count(*) from (" ~ touched_papers_sql() ~ ")").rows[0][0] -%}
        {% do log(this.identifier ~ ": incremental, recomputing " ~ n ~ " paper(s)", info=true) %}
    {%- endif -%}
    {{ return(column ~ " in (" ~ touched_papers_sql() ~ ")") }}
{% endmacro %}

{#
    affected_listing_dates(): for an incremental per-listing-date mart, the listing dates to
    recompute = every listing date of every paper observed in the window (a new capture changes
    its own date's membership and the paper's latest upvotes / author count / topic, which all of
    the paper's dates use), as 'YYYY-MM-DD' strings; logged, so the dbt log shows what each run
    rebuilt. Looked up when the model compiles and inlined (a short constant list).
#}
{% macro affected_listing_dates() %}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set dates_sql -%}
        with touched_papers as ({{ touched_papers_sql() }})
        select distinct strftime(membership.listing_date, '%Y-%m-%d') as listing_date
        from {{ ref('int_listing_papers') }} as membership
        inner join touched_papers on membership.paper_id = touched_papers.paper_id
        order by 1
    {%- endset -%}
    {%- set dates = run_query(dates_sql).columns[0].values() | list -%}
    {% if flags.WHICH in ('run', 'build') %}{% do log(this.identifier ~ ": incremental, recomputing " ~ (dates | length) ~ " listing date(s)"
              ~ (": " ~ (dates[:10] | join(", ")) ~ (" ..." if dates | length > 10 else "") if dates else ""), info=true) %}{% endif %}
    {{ return(dates) }}
{% endmacro %}

{# post-hook of per-paper incremental models: drop rows of paper ids that no longer exist. Only a
   `title:` paper can vanish (its card merged into an arXiv paper; API observations are never
   removed), so only `title:` ids are checked, against the `title:` ids still observed. #}
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
    int_listing_papers with the paper's `columns` of the mart `papers`; in an incremental run only
    the listing dates it recomputes (affected_listing_dates), in a full build every date.
#}
{% macro listed_papers(columns) -%}
    {%- set dates = affected_listing_dates() if is_incremental() else none -%}
    select
        membership.listing_date,
        membership.paper_id,
        {%- for column in columns %}
        papers.{{ column }}{{ "," if not loop.last }}
        {%- endfor %}

    from {{ ref('int_listing_papers') }} as membership
    inner join {{ ref('papers') }} as papers on membership.paper_id = papers.paper_id
    {%- if dates is not none %}
    where
        {%- if dates | length == 0 %} false
        {%- else %} membership.listing_date in ({% for d in dates %}date '{{ d }}'{{ ", " if not loop.last }}{% endfor %})
        {%- endif %}
    {%- endif %}
{%- endmacro %}

{#
    get_where_subquery (dbt's, overridden): a test's `where` config may name the window filters
    `{rows_in_window}`, `{papers_in_window}` and `{snapshots_in_window}` (dbt renders yml configs
    before project macros exist, so they are expanded here, when the test compiles).
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- set where = where
            | replace('{rows_in_window}', in_window())
            | replace('{papers_in_window}', observed_in_window('paper_id'))
            | replace('{snapshots_in_window}', observed_in_window('snapshot_id')) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {% do return(filtered) %}
    {%- else -%}
        {% do return(relation) %}
    {%- endif -%}
{%- endmacro %}
