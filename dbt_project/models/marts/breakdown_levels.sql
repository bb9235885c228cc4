-- How the aggregate marts (recidivism_rates, programme_indicators) count sex and age band per
-- programme: a rare level is counted with its neighbour (int_breakdown_levels). No counts.
select programme, dimension, level, published_level, is_folded
from {{ ref('int_breakdown_levels') }}
order by programme, dimension, level
