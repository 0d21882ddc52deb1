-- People reaching each lifecycle stage in the period, the share of them who moved further down the
-- funnel (by :end_at) and the median days until they did, by first-touch month (cohort) or source.
reached AS (
  -- Every stage each person reached by :end_at, with the first time they reached any later one.
  SELECT
    person,
    stage,
    rank,
    at,
    min(at) OVER (PARTITION BY person ORDER BY rank DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS next_at
  FROM stages
  WHERE rank >= 0 AND at < CAST(:end_at AS TIMESTAMP)
),
moved AS (
  SELECT
    r.person,
    r.stage,
    r.rank,
    r.at,
    CASE WHEN r.next_at < r.at THEN r.at ELSE r.next_at END AS next_at,
    CASE
      WHEN :group_by = 'cohort' THEN coalesce(strftime(f.first_at, '%Y-%m'), '(no touch)')
      WHEN :group_by = 'source' THEN coalesce(f.first_source, '(direct)')
      ELSE 'all'
    END AS grp
  FROM reached AS r
  LEFT JOIN first_touches AS f ON f.person = r.person
  WHERE r.at >= CAST(:start_at AS TIMESTAMP)
),
durations AS (
  SELECT
    grp,
    stage,
    (epoch(next_at) - epoch(at)) / 86400.0 AS days,
    row_number() OVER (PARTITION BY grp, stage ORDER BY (epoch(next_at) - epoch(at))) AS i,
    count(*) OVER (PARTITION BY grp, stage) AS n
  FROM moved
  WHERE next_at IS NOT NULL
),
medians AS (
  SELECT grp, stage, avg(days) AS median_days
  FROM durations
  WHERE i = floor((n + 1) / 2.0) OR i = floor((n + 2) / 2.0)
  GROUP BY grp, stage
)
SELECT
  m.grp AS "group",
  m.stage,
  min(m.rank) AS stage_rank,
  count(*) AS people,
  count(m.next_at) AS moved_on,
  round(CAST(count(m.next_at) AS DOUBLE) / count(*), 4) AS conversion_rate,
  round(min(d.median_days), 2) AS median_days_in_stage
FROM moved AS m
LEFT JOIN medians AS d ON d.grp = m.grp AND d.stage = m.stage
GROUP BY m.grp, m.stage
ORDER BY m.grp, stage_rank
