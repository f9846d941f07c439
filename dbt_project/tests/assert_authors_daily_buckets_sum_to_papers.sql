-- The team-size buckets partition each listing date's papers.
select *
from {{ ref('authors_daily') }}
where team_solo + team_2_3 + team_4_6 + team_7_10 + team_11_20 + team_21_plus <> papers
