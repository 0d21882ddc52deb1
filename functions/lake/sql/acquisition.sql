-- New customers per first-touch channel and month (of becoming a customer), the revenue they realized
-- (won deals, and orders not closing a deal) by :end_at, and the contracts' observed non-renewal.
customers AS (
  SELECT s.person, s.at, coalesce(f.first_channel, 'direct') AS channel
  FROM stages AS s
  LEFT JOIN first_touches AS f ON f.person = s.person
  WHERE s.stage = 'customer' AND s.at >= CAST(:start_at AS TIMESTAMP) AND s.at < CAST(:end_at AS TIMESTAMP)
),
orders AS (
  SELECT
    order_id,
    arg_max(status, version) AS status,
    arg_max(amount, version) AS amount,
    arg_max(contact_id, version) AS contact_id,
    arg_max(deal_id, version) AS deal_id,
    min(at) AS at
  FROM lake_changes
  WHERE kind = 'order'
  GROUP BY order_id
),
revenue AS (
  SELECT person, CAST(amount AS DOUBLE) AS amount FROM deal_people
  WHERE status = 'won' AND amount IS NOT NULL AND closed_at < CAST(:end_at AS TIMESTAMP)
  UNION ALL
  SELECT coalesce(m.merged_into, c.profile_id) AS person, CAST(o.amount AS DOUBLE) AS amount
  FROM orders AS o
  JOIN contacts AS c ON c.contact_id = o.contact_id
  LEFT JOIN merged AS m ON m.profile_id = c.profile_id
  WHERE o.deal_id IS NULL AND o.status NOT IN ('cancelled', 'deleted') AND o.amount IS NOT NULL
    AND o.at < CAST(:end_at AS TIMESTAMP)
),
contracts AS (
  SELECT contract_id, arg_max(status, version) AS status, arg_max(deal_id, version) AS renewal_deal_id,
    arg_max(end_date, version) AS end_date
  FROM lake_changes
  WHERE kind = 'contract'
  GROUP BY contract_id
),
renewals AS (
  SELECT
    count(*) AS ended_contracts,
    count(CASE WHEN d.status = 'won' THEN 1 END) AS renewed_contracts
  FROM contracts AS k
  LEFT JOIN deals AS d ON d.deal_id = k.renewal_deal_id
  WHERE k.status IN ('expired', 'terminated') OR d.status = 'won'
),
per_person AS (
  SELECT c.person, strftime(c.at, '%Y-%m') AS month, c.channel, coalesce(sum(r.amount), 0) AS revenue
  FROM customers AS c
  LEFT JOIN revenue AS r ON r.person = c.person
  GROUP BY c.person, strftime(c.at, '%Y-%m'), c.channel
),
grouped AS (
  SELECT month, channel, count(*) AS customers, round(sum(revenue), 2) AS revenue
  FROM per_person
  GROUP BY month, channel
)
-- One row even without customers: the contracts' renewal counts are always there.
SELECT g.month, g.channel, g.customers, g.revenue, k.ended_contracts, k.renewed_contracts
FROM renewals AS k
LEFT JOIN grouped AS g ON 1 = 1
ORDER BY 1, 2
