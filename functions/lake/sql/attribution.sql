-- Credit for an outcome reached in the period to the touches before it (up to :lookback_days before),
-- under one model: first, last, linear or u-shaped (40% first, 40% last, 20% shared by the middle).
outcomes AS (
  SELECT person, at, CAST(1 AS DOUBLE) AS worth FROM stages
  WHERE :outcome = 'mql' AND stage = 'marketing-qualified'
  UNION ALL
  SELECT person, at, CAST(1 AS DOUBLE) AS worth FROM stages
  WHERE :outcome = 'opportunity' AND stage = 'opportunity'
  UNION ALL
  SELECT person, at, CAST(1 AS DOUBLE) AS worth FROM stages
  WHERE :outcome = 'customer' AND stage = 'customer'
  UNION ALL
  SELECT person, closed_at AS at, CAST(amount AS DOUBLE) AS worth FROM deal_people
  WHERE :outcome = 'revenue' AND status = 'won' AND amount IS NOT NULL
),
paths AS (
  SELECT
    o.person,
    o.at AS outcome_at,
    o.worth,
    t.touch_id,
    coalesce(t.channel, 'direct') AS channel,
    coalesce(t.utm_source, '(none)') AS utm_source,
    coalesce(t.utm_medium, '(none)') AS utm_medium,
    coalesce(t.utm_campaign, '(none)') AS utm_campaign,
    coalesce(t.email_campaign, '(none)') AS email_campaign,
    coalesce(t.journey, '(none)') AS journey,
    row_number() OVER (PARTITION BY o.person, o.at ORDER BY t.at, t.touch_id) AS n,
    count(*) OVER (PARTITION BY o.person, o.at) AS total
  FROM outcomes AS o
  LEFT JOIN touches AS t
    ON t.person = o.person AND t.at <= o.at AND t.at >= o.at - (INTERVAL '1' DAY) * :lookback_days
  WHERE o.at >= CAST(:start_at AS TIMESTAMP) AND o.at < CAST(:end_at AS TIMESTAMP)
),
weighted AS (
  SELECT
    *,
    CASE
      WHEN :model = 'first' THEN CASE WHEN n = 1 THEN 1.0 ELSE 0.0 END
      WHEN :model = 'last' THEN CASE WHEN n = total THEN 1.0 ELSE 0.0 END
      WHEN :model = 'linear' THEN 1.0 / total
      ELSE CASE
        WHEN total = 1 THEN 1.0
        WHEN total = 2 THEN 0.5
        WHEN n = 1 OR n = total THEN 0.4
        ELSE 0.2 / (total - 2)
      END
    END AS weight
  FROM paths
),
dimensions AS (
  SELECT * FROM (VALUES ('channel'), ('utm_source'), ('utm_medium'), ('utm_campaign'), ('email_campaign'), ('journey')) AS d(dimension)
)
SELECT
  d.dimension,
  CASE d.dimension
    WHEN 'channel' THEN w.channel
    WHEN 'utm_source' THEN w.utm_source
    WHEN 'utm_medium' THEN w.utm_medium
    WHEN 'utm_campaign' THEN w.utm_campaign
    WHEN 'email_campaign' THEN w.email_campaign
    ELSE w.journey
  END AS value,
  round(sum(w.weight * w.worth), 4) AS credit,
  count(DISTINCT CASE WHEN w.weight > 0 THEN w.person END) AS people
FROM weighted AS w
CROSS JOIN dimensions AS d
GROUP BY 1, 2
HAVING sum(w.weight) > 0
ORDER BY 1, credit DESC, 2
