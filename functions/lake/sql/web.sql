-- Top pages, referrers and UTM sources of the period, and how many of its visitors became known,
-- marketing-qualified and customers (by :end_at).
views AS (
  -- One row per event id (a row delivered twice has the same values: max() picks them).
  SELECT
    event_id,
    max(identity) AS identity,
    max(page_path) AS page_path,
    max(page_host) AS page_host,
    max(referrer_host) AS referrer_host,
    max(utm_source) AS utm_source
  FROM lake_events
  WHERE type = 'page' AND day BETWEEN :from_day AND :to_day
    AND occurred_at >= CAST(:start_at AS TIMESTAMP) AND occurred_at < CAST(:end_at AS TIMESTAMP)
  GROUP BY event_id
),
ranked AS (
  SELECT section, value, views, visitors,
    row_number() OVER (PARTITION BY section ORDER BY views DESC, value) AS place
  FROM (
    SELECT 'page' AS section, page_path AS value, count(*) AS views, count(DISTINCT identity) AS visitors
    FROM views WHERE page_path IS NOT NULL GROUP BY page_path
    UNION ALL
    SELECT 'referrer' AS section, referrer_host AS value, count(*) AS views, count(DISTINCT identity) AS visitors
    FROM views WHERE referrer_host IS NOT NULL AND referrer_host <> coalesce(page_host, '') GROUP BY referrer_host
    UNION ALL
    SELECT 'utm_source' AS section, utm_source AS value, count(*) AS views, count(DISTINCT identity) AS visitors
    FROM views WHERE utm_source IS NOT NULL GROUP BY utm_source
  ) AS sections
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
SELECT section, value, views, visitors, place FROM ranked WHERE place <= :top
UNION ALL
SELECT 'visitors' AS section, 'visitors' AS value, visitors AS views, visitors, 1 AS place FROM outcome
UNION ALL
SELECT 'visitors' AS section, 'known' AS value, known AS views, known AS visitors, 2 AS place FROM outcome
UNION ALL
SELECT 'visitors' AS section, 'mql' AS value, mql AS views, mql AS visitors, 3 AS place FROM outcome
UNION ALL
SELECT 'visitors' AS section, 'customers' AS value, customers AS views, customers AS visitors, 4 AS place FROM outcome
ORDER BY 1, 5
