-- A build that leaves marts.papers empty fails: nothing is published from an empty warehouse.
select 'marts.papers has no rows' as problem
where not exists (select 1 from {{ ref('papers') }})
