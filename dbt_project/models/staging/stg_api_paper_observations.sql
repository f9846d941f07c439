-- One row per paper per API capture, from both API raw tables (macro api_raw_tables).
-- De-duplicated on (snapshot_id, arxiv_id): the same snapshot reaching both raw tables (or a
-- re-load of one) yields one observation; a fetch wins over a landed file.
-- The abstract is not copied (has_summary only): (source_format, snapshot_id, rank) finds it in
-- the view stg_api_paper_abstracts.
-- Incremental: a run processes the rows of the change window (loads after the last build: raw is
-- append-only and a snapshot is loaded whole, in one load); delete+insert on snapshot_id, so
-- re-processing a snapshot replaces its rows.

{{
    config(
        materialized='incremental',
        unique_key='snapshot_id',
        on_schema_change='sync_all_columns'
    )
}}

with

unioned as (

    {% for source_format, table_name in api_raw_tables() %}
    {{ 'union all by name' if not loop.first }}
    select *, '{{ source_format }}' as source_format
    from {{ source_or_empty('raw', table_name) }}
    {% endfor %}

),

-- the abstract itself stays in raw (view stg_api_paper_abstracts): only whether there is one (a
-- character other than whitespace, which collapse_whitespace would not make NULL) goes on, so the
-- de-duplication below never sorts the abstracts' text
new_rows as (

    select * exclude (summary), coalesce(regexp_matches(summary, '[^\s\p{Z}]'), false) as has_summary
    from unioned
    {% if is_incremental() %}
    where {{ in_window() }}
    {% endif %}

),

deduplicated as (

    select *
    from new_rows
    qualify row_number() over (
        partition by snapshot_id, arxiv_id
        order by case source_format when 'api_fetch' then 0 else 1 end, rank
    ) = 1

),

renamed as (

    select
        snapshot_id,
        source_format,
        source_uri,
        listing_date,
        captured_at,
        rank,
        arxiv_id,
        {{ collapse_whitespace('title') }} as title,
        {{ normalize_title('title') }} as title_norm,
        has_summary,
        authors_json,
        author_count,
        published_at,
        cast(timezone('UTC', published_at) as date) as published_on,
        upvotes,
        coalesce(num_comments, 0) as num_comments,
        nullif(trim(github_repo), '') as github_repo,
        github_stars,
        nullif(trim(project_page), '') as project_page,
        nullif(trim(organization), '') as organization,
        ai_keywords_json,
        cast(from_json(ai_keywords_json, '["VARCHAR"]') as varchar[]) as ai_keywords,
        ai_summary,
        submitted_on_daily_at,
        submitted_by,
        _dlt_load_id

    from deduplicated

)

select * from renamed
