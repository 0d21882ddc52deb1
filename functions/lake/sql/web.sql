-- Top pages, referrers and UTM sources of the period, and how many of its visitors became known,
-- marketing-qualified and customers (by :end_at).
-- Cost (docs/lake.md, "What the web report costs"): one hash aggregation over the period's page views
-- removes redelivered copies; views per value are then counted from those rows (a few hundred
-- groups); distinct visitors, the costly count, are counted only for the :top values shown.
views AS (
  -- One row per event id: a row delivered twice has the same id and the same values.
  SELECT DISTINCT
    event_id,
    identity,
    page_path,
    CASE WHEN referrer_host <> coalesce(page_host, '') THEN referrer_host END AS referrer_host,
    utm_source
  FROM lake_events
  WHERE type = 'page' AND day BETWEEN :from_day AND :to_day
    AND occurred_at >= CAST(:start_at AS TIMESTAMP) AND occurred_at < CAST(:end_at AS TIMESTAMP)
),
seen AS (
  SELECT 'page' AS section, page_path AS value, identity FROM views WHERE page_path IS NOT NULL
  UNION ALL
  SELECT 'referrer' AS section, referrer_host AS value, identity FROM views WHERE referrer_host IS NOT NULL
  UNION ALL
  SELECT 'utm_source' AS section, utm_source AS value, identity FROM views WHERE utm_source IS NOT NULL
),
top_values AS (
  SELECT * FROM (
    SELECT section, value, views, row_number() OVER (PARTITION BY section ORDER BY views DESC, value) AS place
    FROM (SELECT section, value, count(*) AS views FROM seen GROUP BY section, value) AS counted
  ) AS placed
  WHERE place <= :top
),
ranked AS (
  SELECT t.section, t.value, t.views, count(*) AS visitors, t.place
  FROM (
    SELECT s.section, s.value, s.identity
    FROM seen AS s
    JOIN top_values AS t ON t.section = s.section AND t.value = s.value
    GROUP BY s.section, s.value, s.identity
  ) AS pairs
  JOIN top_values AS t ON t.section = pairs.section AND t.value = pairs.value
  GROUP BY t.section, t.value, t.views, t.place
),
visitors AS (
  SELECT DISTINCT coalesce(p.person, v.identity) AS person
  FROM (SELECT DISTINCT identity FROM views) AS v
  LEFT JOIN person_of AS p ON p.identity = v.identity
),
known AS (
  SELECT DISTINCT coalesce(m.merged_into, k.profile_id) AS person
  FROM lake_changes AS k
  LEFT JOIN merged AS m ON m.profile_id = k.profile_id
  WHERE k.kind = 'known' AND k.at < CAST(:end_at AS TIMESTAMP)
),
outcome AS (
  SELECT
    count(*) AS visitors,
    count(k.person) AS known,
    count(DISTINCT q.person) AS mql,
    count(DISTINCT c.person) AS customers
  FROM visitors AS v
  LEFT JOIN known AS k ON k.person = v.person
  LEFT JOIN stages AS q ON q.person = v.person AND q.stage = 'marketing-qualified' AND q.at < CAST(:end_at AS TIMESTAMP)
  LEFT JOIN stages AS c ON c.person = v.person AND c.stage = 'customer' AND c.at < CAST(:end_at AS TIMESTAMP)
)
SELECT section, value, views, visitors, place FROM ranked
UNION ALL
SELECT 'visitors' AS section, 'visitors' AS value, visitors AS views, visitors, 1 AS place FROM outcome
UNION ALL
SELECT 'visitors' AS section, 'known' AS value, known AS views, known AS visitors, 2 AS place FROM outcome
UNION ALL
SELECT 'visitors' AS section, 'mql' AS value, mql AS views, mql AS visitors, 3 AS place FROM outcome
UNION ALL
SELECT 'visitors' AS section, 'customers' AS value, customers AS views, customers AS visitors, 4 AS place FROM outcome
ORDER BY 1, 5
