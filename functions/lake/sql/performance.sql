-- Sends, opens, clicks and conversions per day of campaigns and journeys, from the send milestones.
SELECT
  strftime(at, '%Y-%m-%d') AS date,
  coalesce(campaign_id, '') AS campaign_id,
  coalesce(journey_id, '') AS journey_id,
  count(DISTINCT CASE WHEN milestone = 'sent' THEN send_id END) AS sends,
  count(DISTINCT CASE WHEN milestone = 'opened' THEN send_id END) AS opens,
  count(DISTINCT CASE WHEN milestone = 'clicked' THEN send_id END) AS clicks,
  count(DISTINCT CASE WHEN milestone = 'converted' THEN send_id END) AS conversions
FROM lake_changes
WHERE kind = 'send' AND day BETWEEN :from_day AND :to_day
  AND at >= CAST(:start_at AS TIMESTAMP) AND at < CAST(:end_at AS TIMESTAMP)
  AND (:campaign_id = '' OR campaign_id = :campaign_id)
  AND (:journey_id = '' OR journey_id = :journey_id)
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
