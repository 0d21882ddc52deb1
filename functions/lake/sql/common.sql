-- Shared by every report: who each identity is, merges, contacts, deals and stages, deduplicated.
-- Written in DuckDB's dialect; lake.queries translates it for Athena (Trino) with sqlglot.
-- Every row may be in the lake twice (a redelivered stream record, a Firehose retry): the same id
-- with the same values, so each CTE reads distinct ids or takes one value per id.
owners AS (
  SELECT identity, arg_max(profile_id, at) AS profile_id
  FROM lake_changes
  WHERE kind = 'identity'
  GROUP BY identity
),
merged AS (
  SELECT profile_id, max(merged_into) AS merged_into
  FROM lake_changes
  WHERE kind = 'merge'
  GROUP BY profile_id
),
person_of AS (
  SELECT o.identity, coalesce(m.merged_into, o.profile_id) AS person
  FROM owners AS o
  LEFT JOIN merged AS m ON m.profile_id = o.profile_id
),
contacts AS (
  SELECT contact_id, arg_max(profile_id, version) AS profile_id
  FROM lake_changes
  WHERE kind = 'contact'
  GROUP BY contact_id
),
deals AS (
  SELECT
    deal_id,
    arg_max(status, version) AS status,
    arg_max(amount, version) AS amount,
    arg_max(contact_id, version) AS contact_id,
    arg_max(closed_at, version) AS closed_at,
    min(at) AS opened_at
  FROM lake_changes
  WHERE kind = 'deal'
  GROUP BY deal_id
),
deal_people AS (
  SELECT d.deal_id, d.status, d.amount, d.closed_at, d.opened_at, coalesce(m.merged_into, c.profile_id) AS person
  FROM deals AS d
  JOIN contacts AS c ON c.contact_id = d.contact_id
  LEFT JOIN merged AS m ON m.profile_id = c.profile_id
  WHERE c.profile_id IS NOT NULL AND d.status <> 'deleted'
),
stage_moves AS (
  SELECT coalesce(m.merged_into, s.profile_id) AS person, s.stage, s.at
  FROM lake_changes AS s
  LEFT JOIN merged AS m ON m.profile_id = s.profile_id
  WHERE s.kind = 'stage'
  UNION ALL
  SELECT person, 'opportunity' AS stage, opened_at AS at FROM deal_people
  UNION ALL
  SELECT person, 'customer' AS stage, closed_at AS at FROM deal_people WHERE status = 'won'
),
stages AS (
  SELECT
    person,
    stage,
    min(at) AS at,
    CASE stage
      WHEN 'subscriber' THEN 0 WHEN 'lead' THEN 1 WHEN 'marketing-qualified' THEN 2
      WHEN 'sales-qualified' THEN 3 WHEN 'opportunity' THEN 4 WHEN 'customer' THEN 5
      WHEN 'evangelist' THEN 6 ELSE -1
    END AS rank
  FROM stage_moves
  WHERE person IS NOT NULL AND at IS NOT NULL
  GROUP BY person, stage
),
event_touches AS (
  -- One row per event id (a row delivered twice has the same values: max() picks them).
  SELECT
    event_id,
    max(identity) AS identity,
    max(occurred_at) AS at,
    max(channel) AS channel,
    max(utm_source) AS utm_source,
    max(utm_medium) AS utm_medium,
    max(utm_campaign) AS utm_campaign
  FROM lake_events
  WHERE touch AND day BETWEEN :touch_from_day AND :to_day
  GROUP BY event_id
),
touches AS (
  SELECT
    e.event_id AS touch_id,
    coalesce(p.person, e.identity) AS person,
    e.at,
    e.channel,
    e.utm_source,
    e.utm_medium,
    e.utm_campaign,
    CAST(NULL AS VARCHAR) AS email_campaign,
    CAST(NULL AS VARCHAR) AS journey
  FROM event_touches AS e
  LEFT JOIN person_of AS p ON p.identity = e.identity
  UNION ALL
  SELECT DISTINCT
    c.change_id AS touch_id,
    coalesce(m.merged_into, c.profile_id) AS person,
    c.at,
    'email' AS channel,
    'email' AS utm_source,
    'email' AS utm_medium,
    CAST(NULL AS VARCHAR) AS utm_campaign,
    c.campaign_id AS email_campaign,
    c.journey_id AS journey
  FROM lake_changes AS c
  LEFT JOIN merged AS m ON m.profile_id = c.profile_id
  WHERE c.kind = 'send' AND c.milestone = 'clicked' AND c.day BETWEEN :touch_from_day AND :to_day
),
first_touches AS (
  SELECT
    person,
    min(at) AS first_at,
    arg_min(coalesce(utm_source, channel), at) AS first_source,
    arg_min(channel, at) AS first_channel
  FROM touches
  GROUP BY person
)
