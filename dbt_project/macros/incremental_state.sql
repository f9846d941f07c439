{#
    Incremental bookkeeping.

    Every row written to intermediate.int_paper_observations carries `_batch_at`: the
    run_started_at of the dbt invocation that (re)processed its snapshot. Downstream incremental
    models find "what is new" by comparing `_batch_at` with a watermark:

      * internal models keep the watermark in their own rows (max(_batch_at) of {{ this }});
      * public marts cannot carry extra columns (their contract is fixed), so their watermark lives
        in intermediate.mart_watermarks: one row per mart, written by the mart's post-hook in the
        same transaction as the mart itself (a failed build records nothing, so the next run
        recomputes what was missed). Topic marts also store an md5 of the taxonomy seed: a changed
        taxonomy recomputes every listing date.

    A missing watermark (first build, table recreated, model renamed) means "everything is new".
#}

{% macro create_mart_watermarks() %}
    create schema if not exists intermediate;
    create table if not exists intermediate.mart_watermarks (
        model_name varchar primary key,
        batch_watermark timestamptz,
        taxonomy_md5 varchar,
        recorded_at timestamptz
    );
{% endmacro %}

{% macro batch_stamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}+00' as timestamptz)
{%- endmacro %}

{% macro taxonomy_md5() -%}
    (select md5(coalesce(string_agg(topic || '=' || coalesce(term, ''), '|' order by topic, term), ''))
     from {{ ref('topic_taxonomy') }})
{%- endmacro %}

{% macro mart_watermark(model_name=none) -%}
    coalesce(
        (select max(batch_watermark) from intermediate.mart_watermarks
         where model_name = '{{ model_name or this.identifier }}'),
        '-infinity'::timestamptz
    )
{%- endmacro %}

{# post-hook of an incremental mart: everything up to max(_batch_at) is now incorporated #}
{% macro record_mart_watermark(with_taxonomy=false) -%}
    insert or replace into intermediate.mart_watermarks
    select
        '{{ this.identifier }}',
        (select max(_batch_at) from {{ ref('int_paper_observations') }}),
        {% if with_taxonomy %}{{ taxonomy_md5() }}{% else %}null{% endif %},
        now()
{%- endmacro %}

{#
    mart_needs_full_scope(with_taxonomy): true when an incremental mart must recompute everything:
    no watermark recorded for it yet, or (topic marts) the taxonomy seed changed since.
#}
{% macro mart_needs_full_scope(with_taxonomy=false) %}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set state_sql -%}
        select
            count(*) as has_watermark,
            {% if with_taxonomy %}
            coalesce(bool_or(taxonomy_md5 is distinct from {{ taxonomy_md5() }}), true) as taxonomy_changed
            {% else %}
            false as taxonomy_changed
            {% endif %}
        from intermediate.mart_watermarks
        where model_name = '{{ this.identifier }}'
    {%- endset -%}
    {%- set state = run_query(state_sql).rows[0] -%}
    {%- if state[0] == 0 or state[1] -%}
        {% if flags.WHICH in ('run', 'build') %}{% do log(this.identifier ~ ": incremental, recomputing ALL ("
                  ~ ("taxonomy changed" if state[0] else "no watermark") ~ ")", info=true) %}{% endif %}
        {{ return(true) }}
    {%- endif -%}
    {{ return(false) }}
{% endmacro %}

{#
    affected_listing_dates(with_taxonomy): for an incremental per-listing-date mart, the listing
    dates to recompute = every listing date of every paper observed in a batch newer than the
    mart's watermark (a new capture changes its own date's membership and the paper's latest
    upvotes / author count / topic, which all of the paper's dates use). Returns a list of
    'YYYY-MM-DD' strings, or none for "all dates" (no watermark yet, or the taxonomy changed).
    Logs what it decided, so the dbt log shows what each run rebuilt.
#}
{% macro affected_listing_dates(with_taxonomy=false) %}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- if mart_needs_full_scope(with_taxonomy) -%}
        {{ return(none) }}
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

{# papers observed in a batch newer than this mart's watermark #}
{% macro touched_papers_sql() -%}
    select distinct paper_id
    from {{ ref('int_paper_observations') }}
    where _batch_at > {{ mart_watermark() }}
{%- endmacro %}

{#
    touched_paper_filter(column, with_taxonomy): SQL predicate for an incremental per-paper mart:
    `true` when everything must be recomputed, else `column in (papers observed since the
    watermark)`. Logs how many papers it recomputes.
#}
{% macro touched_paper_filter(column, with_taxonomy=false) %}
    {%- if not execute -%}
        {{ return("true") }}
    {%- endif -%}
    {%- if mart_needs_full_scope(with_taxonomy) -%}
        {{ return("true") }}
    {%- endif -%}
    {%- set n = run_query("select count(*) from (" ~ touched_papers_sql() ~ ")").rows[0][0] -%}
    {% if flags.WHICH in ('run', 'build') %}{% do log(this.identifier ~ ": incremental, recomputing " ~ n ~ " paper(s)", info=true) %}{% endif %}
    {{ return(column ~ " in (" ~ touched_papers_sql() ~ ")") }}
{% endmacro %}

{# post-hook of per-paper incremental models: drop rows of paper ids that no longer exist (a
   `title:` paper whose card merged into an arXiv paper) #}
{% macro delete_vanished_papers() -%}
    delete from {{ this }}
    where paper_id not in (select distinct paper_id from {{ ref('int_paper_observations') }})
{%- endmacro %}

{# SQL predicate restricting `column` to the affected dates (true when dates is none = all) #}
{% macro listing_date_filter(column, dates) -%}
    {%- if dates is none -%}
        true
    {%- elif dates | length == 0 -%}
        false
    {%- else -%}
        {{ column }} in ({% for d in dates %}date '{{ d }}'{{ ", " if not loop.last }}{% endfor %})
    {%- endif -%}
{%- endmacro %}
