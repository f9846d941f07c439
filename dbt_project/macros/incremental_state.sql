{#
    Incremental bookkeeping.

    Every row written to intermediate.int_paper_observations carries `_batch_at`: the
    run_started_at of the dbt invocation that (re)processed its snapshot. Downstream incremental
    models find "what is new" by comparing `_batch_at` with a watermark:

      * internal models keep the watermark in their own rows (max(_batch_at) of {{ this }});
      * public marts cannot carry extra columns (their contract is fixed), so their watermark lives
        in intermediate.mart_watermarks: one row per mart, written by the mart's post-hook in the
        same transaction as the mart itself (a failed build records nothing, so the next run
        recomputes what was missed). Topic marts also store an md5 of the taxonomy seeds and the
        scoring vars (macro taxonomy_md5): a changed taxonomy recomputes every listing date.

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

{#- md5 of everything topic scoring reads besides the papers: the term weights, the topics' base
    scores and vars.topic_scoring -#}
{% macro taxonomy_md5() -%}
    (select md5(
        (select coalesce(string_agg(topic || '=' || coalesce(term, '') || '=' || coalesce(cast(weight as varchar), ''),
                                    '|' order by topic, term), '')
         from {{ ref('topic_taxonomy') }})
        || '#' || (select coalesce(string_agg(topic || '=' || coalesce(cast(base_score as varchar), ''), '|' order by topic), '')
                   from {{ ref('topics') }})
        || '#' || '{{ tojson(var('topic_scoring')) }}'))
{%- endmacro %}

{#
    Watermarks are looked up when the model compiles (just before it runs) and inlined as
    timestamptz constants: a constant `_batch_at > ...` filter is pushed into the table scan
    (row groups of older batches are skipped by their min/max), a scalar subquery is not.
#}
{% macro mart_watermark(model_name=none) -%}
    {%- set sql -%}
        select max(batch_watermark) from intermediate.mart_watermarks
        where model_name = '{{ model_name or this.identifier }}'
    {%- endset -%}
    {{ timestamptz_constant(sql) }}
{%- endmacro %}

{# max_batch_at(relation): the newest _batch_at in relation ('-infinity' when empty), as a constant #}
{% macro max_batch_at(relation) -%}
    {{ timestamptz_constant("select max(_batch_at) from " ~ relation, inline=(load_relation(relation) is not none) if execute else false) }}
{%- endmacro %}

{# the single timestamptz value of sql (NULL -> '-infinity') as a constant (a subquery at parse time) #}
{% macro timestamptz_constant(sql, inline=true) -%}
    {%- set value_sql = "select cast(coalesce((" ~ sql ~ "), '-infinity'::timestamptz) as varchar)" -%}
    {%- if execute and inline -%}
        cast('{{ run_query(value_sql).rows[0][0] }}' as timestamptz)
    {%- else -%}
        ({{ value_sql }})::timestamptz
    {%- endif -%}
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

{#
    inlined_in_filter(column, ids_sql, max_inline): SQL predicate `column in (<ids_sql>)`, with the
    ids looked up when the model compiles and inlined as constants when there are at most
    max_inline of them (`false` when none). DuckDB then filters the scan itself (only matching
    rows are read further) instead of reading every column of every row into a semi-join; a long
    list (e.g. a bulk load) keeps the subquery form.
#}
{% macro inlined_in_filter(column, ids_sql, max_inline=500) %}
    {%- if not execute -%}
        {{ return(column ~ " in (" ~ ids_sql ~ ")") }}
    {%- endif -%}
    {%- set ids = run_query("select * from (" ~ ids_sql ~ ") order by 1 limit " ~ (max_inline + 1)).columns[0].values() | list -%}
    {%- if ids | length > max_inline -%}
        {{ return(column ~ " in (" ~ ids_sql ~ ")") }}
    {%- elif ids | length == 0 -%}
        {{ return("false") }}
    {%- endif -%}
    {{ return(column ~ " in ('" ~ ids | map('replace', "'", "''") | join("', '") ~ "')") }}
{% endmacro %}

{#
    new_snapshots_filter(source_sql, column): for snapshot-incremental models, `column` is one of
    the snapshots of source_sql not yet in {{ this }} (inlined, see inlined_in_filter: the look-up
    scans only the two snapshot_id columns).
#}
{% macro new_snapshots_filter(source_sql, column='snapshot_id') %}
    {%- set ids_sql -%}
        select distinct snapshot_id from {{ source_sql }} as src
        where snapshot_id not in (select distinct snapshot_id from {{ this }})
    {%- endset -%}
    {{ return(inlined_in_filter(column, ids_sql)) }}
{% endmacro %}
