-- One row per pipeline run that validated anything: how many suites and expectations, how many failed.
with results as (
    select * from {{ ref('validation_results') }}
),

runs as (
    select
        run_id,
        min(validated_at) as first_validated_at,
        max(validated_at) as last_validated_at,
        count(*)::integer as suites,
        count(*) filter (where not success)::integer as suites_failed,
        sum(evaluated)::integer as expectations_evaluated,
        sum(failed)::integer as expectations_failed,
        bool_and(success) as success,
        string_agg(suite, ', ' order by suite) filter (where not success) as failed_suites
    from results
    group by run_id
)

select * from runs
