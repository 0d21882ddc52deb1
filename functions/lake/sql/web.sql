-- Top pages, referrers and UTM sources of the period, and how many of its visitors became known,
-- marketing-qualified and customers (by :end_at).
-- Cost (docs/lake.md, "What the web report costs"): the period's page views are read once into a
-- narrow set, each view's event id as a 64-bit hash; redelivered copies are found among the hashes seen
-- twice and confirmed by their event ids; views per value are counted from the set (a few hundred
-- groups) less the copies; distinct visitors, the costly count, are counted only for the :top values.
page_views AS (
  SELECT
    hash(event_id) AS id_hash,
    identity,
    page_path,
    CASE WHEN referrer_host <> coalesce(page_host, '') THEN referrer_host END AS referrer_host,
    utm_source
  FROM lake_events
  WHERE type = 'page' AND day BETWEEN :from_day AND :to_day
    AND occurred_at >= CAST(:start_at AS TIMESTAMP) AND occurred_at < CAST(:end_at AS TIMESTAMP)
),
copies AS (
  -- Each view delivered more than once, with how many times too many. A row delivered twice has the
  -- same id and the same values; two different views whose ids share a hash are told apart by the ids.
  SELECT
    event_id,
    max(page_path) AS page_path,
    max(CASE WHEN referrer_host <> coalesce(page_host, '') THEN referrer_host END) AS referrer_host,
    max(utm_source) AS utm_source,
    count(*) - 1 AS extra
  FROM lake_events
  WHERE type = 'page' AND day BETWEEN :from_day AND :to_day
    AND occurred_at >= CAST(:start_at AS TIMESTAMP) AND occurred_at < CAST(:end_at AS TIMESTAMP)
    AND hash(event_id) IN (SELECT id_hash FROM page_views GROUP BY id_hash HAVING count(*) > 1)
  GROUP BY event_id
  HAVING count(*) > 1
),
counted AS (
  SELECT section, value, sum(views) AS views
  FROM (
    SELECT 'page' AS section, page_path AS value, count(*) AS views FROM page_views WHERE page_path IS NOT NULL GROUP BY page_path
    UNION ALL
    SELECT 'referrer' AS section, referrer_host AS value, count(*) AS views FROM page_views WHERE referrer_host IS NOT NULL GROUP BY referrer_host
    UNION ALL
    SELECT 'utm_source' AS section, utm_source AS value, count(*) AS views FROM page_views WHERE utm_source IS NOT NULL GROUP BY utm_source
    UNION ALL
    SELECT 'page' AS section, page_path AS value, -sum(extra) AS views FROM copies WHERE page_path IS NOT NULL GROUP BY page_path
    UNION ALL
    SELECT 'referrer' AS section, referrer_host AS value, -sum(extra) AS views FROM copies WHERE referrer_host IS NOT NULL GROUP BY referrer_host
    UNION ALL
    SELECT 'utm_source' AS section, utm_source AS value, -sum(extra) AS views FROM copies WHERE utm_source IS NOT NULL GROUP BY utm_source
  ) AS parts
  GROUP BY section, value
),
top_values AS (
  SELECT * FROM (
    SELECT section, value, views, row_number() OVER (PARTITION BY section ORDER BY views DESC, value) AS place
    FROM counted
  ) AS placed
  WHERE place <= :top
),
ranked AS (
  -- A copy is the same visitor again: distinct visitors need no de-duplication.
  SELECT t.section, t.value, t.views, v.visitors, t.place
  FROM top_values AS t
  JOIN (
    SELECT 'page' AS section, page_path AS value, count(DISTINCT identity) AS visitors FROM page_views
    WHERE page_path IN (SELECT value FROM top_values WHERE section = 'page') GROUP BY page_path
    UNION ALL
    SELECT 'referrer' AS section, referrer_host AS value, count(DISTINCT identity) AS visitors FROM page_views
    WHERE referrer_host IN (SELECT value FROM top_values WHERE section = 'referrer') GROUP BY referrer_host
    UNION ALL
    SELECT 'utm_source' AS section, utm_source AS value, count(DISTINCT identity) AS visitors FROM page_views
    WHERE utm_source IN (SELECT value FROM top_values WHERE section = 'utm_source') GROUP BY utm_source
  ) AS v ON v.section = t.section AND v.value = t.value
),
visitors AS (
  SELECT DISTINCT coalesce(p.person, v.identity) AS person
  FROM (SELECT DISTINCT identity FROM page_views) AS v
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
