-- Every Great Expectations suite run, without the server path of its report.
with results as (
    select * from {{ source_or_empty('ops', 'validation_results') }}
),

published as (
    select
        run_id,
        suite,
        table_name,
        evaluated,
        failed,
        success,
        failed_expectations,
        validated_at,
        rows,
        scope
    from results
)

select * from published
