-- Every Great Expectations suite run, without the server path of its report.
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
from {{ source_or_empty('ops', 'validation_results') }}
