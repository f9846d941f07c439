select week_start, sum(share_of_week) as share_total
from {{ ref('topics_weekly') }}
group by week_start
having abs(sum(share_of_week) - 1) > 1e-9
