-- The all-text SQL that the bench ran before the typed bench/rules.sql replaced it: every
-- column read as text and cast in SQL. Issues 9-11 set their speed conditions (churnwatch <= 0.8 x
-- DuckDB, "0.71-0.78 x") against this side, so `npm run bench -- --sql text` keeps that comparison
-- reproducible beside the typed one. Clean dialect only.
--
-- The twelve default rules of the input contract, their value and tier, written by
-- hand in DuckDB SQL: the other side of the benchmark (see bench/README.md).
--
-- bench/duckdb-run.mjs fills in the {{placeholders}}: {{dir}} the extracts folder,
-- {{out}} the CSV to write, {{D}} the run date (YYYY-MM-DD), {{threads}}.
--
-- It computes what the input contract (and the README's "Dates, value and tiers" and
-- "The default rules") says:
--   * every column is read as text (identifiers keep their leading zeros);
--   * money, minutes and usage are DECIMAL(18,2), so sums and ratios are exact
--     (7.07 after 10.10 is a 30% drop);
--   * M0 = the latest bill_month of the billing extract earlier than D's month,
--     M1..M3 the calendar months before it; a month without a row counts 0;
--   * windows include both ends; `closed` lines are never flagged;
--   * dates are YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD, a time after the date is ignored
--     (created_at: "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DDTHH:MM:SS", ...); months YYYY-MM or YYYYMM;
--   * renewed is 0/1/true/false;
--   * a fact row whose subscriber is unknown, or whose required field is empty or
--     unparsable, counts for nothing (churnwatch rejects it; this side only drops it).
-- Not done here, as the generated extracts never need it: reject bookkeeping, the
-- duplicate-id rule (first row wins), the member_level enum check, the data-quality
-- gates, and leaving rows of unknown subscribers out of the choice of M0.
-- It writes subscriber_id, value, tier and one 0/1 column per rule.

SET threads = {{threads}};
SET preserve_insertion_order = false;

-- A day: YYYY-MM-DD or YYYY/MM/DD (a time after it is ignored), or YYYYMMDD.
CREATE MACRO cw_day(s) AS
  coalesce(try_cast(s AS DATE), CAST(try_strptime(left(s, 8), '%Y%m%d') AS DATE));
-- A month as the DATE of its first day: YYYY-MM or YYYYMM.
CREATE MACRO cw_month(s) AS
  coalesce(try_cast(s || '-01' AS DATE), CAST(try_strptime(s, '%Y%m') AS DATE));
-- A number with at most two decimals, exactly; NULL when it is not one.
CREATE MACRO cw_num(s) AS try_cast(s AS DECIMAL(18, 2));
-- An optional numeric column: empty counts 0.
CREATE MACRO cw_opt(s) AS CASE WHEN s IS NULL THEN 0::DECIMAL(18, 2) ELSE try_cast(s AS DECIMAL(18, 2)) END;

COPY (
  WITH
  subs AS (
    SELECT subscriber_id, status,
           CASE WHEN activation_date IS NULL THEN NULL ELSE cw_day(activation_date) END AS activation,
           cw_num(prepaid_balance) AS balance
    FROM read_csv('{{dir}}/subscribers.csv', header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')
    WHERE subscriber_id IS NOT NULL AND msisdn IS NOT NULL
      AND status IN ('active', 'suspended_arrears', 'suspended_hold', 'closed')
  ),
  -- Billing rows, parsed once and kept (M0 needs a pass over all of them first).
  -- A row with an unparsable field is left out below (the checks run on the kept
  -- columns: a filter here would be pushed into the scan and parse every field twice).
  bill AS MATERIALIZED (
    SELECT subscriber_id, cw_month(bill_month) AS m, cw_num(amount) AS amt,
           cw_opt(mou) AS mou, cw_opt(hotline_calls) AS hot
    FROM read_csv('{{dir}}/billing_monthly.csv', header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')
  ),
  -- M0: the latest billed month before D's month; M1..M3 the calendar months before it.
  m0 AS (
    SELECT m0, CAST(m0 - INTERVAL 1 MONTH AS DATE) AS m1, CAST(m0 - INTERVAL 2 MONTH AS DATE) AS m2,
           CAST(m0 - INTERVAL 3 MONTH AS DATE) AS m3
    FROM (
      SELECT max(m) AS m0 FROM bill
      WHERE m < date_trunc('month', DATE '{{D}}')
        AND subscriber_id IS NOT NULL AND amt IS NOT NULL AND mou IS NOT NULL AND hot IS NOT NULL
    )
  ),
  months AS (
    SELECT subscriber_id,
           coalesce(sum(amt) FILTER (WHERE m = m0), 0) AS a0,
           coalesce(sum(amt) FILTER (WHERE m = m1), 0) AS a1,
           coalesce(sum(amt) FILTER (WHERE m = m2), 0) AS a2,
           coalesce(sum(amt) FILTER (WHERE m = m3), 0) AS a3,
           coalesce(sum(mou) FILTER (WHERE m = m0), 0) AS mou0,
           coalesce(sum(mou) FILTER (WHERE m = m1), 0) AS mou1,
           coalesce(sum(hot) FILTER (WHERE m = m0), 0) AS hot0
    FROM bill, m0
    WHERE m BETWEEN m3 AND m0 AND amt IS NOT NULL AND mou IS NOT NULL AND hot IS NOT NULL
    GROUP BY subscriber_id
  ),
  -- d1..d3: activity = calls + sms + data_mb, and forwarded calls, summed per day.
  days AS (
    SELECT subscriber_id,
           coalesce(sum(act) FILTER (WHERE d = DATE '{{D}}' - 1 AND fwd IS NOT NULL), 0) AS act1,
           coalesce(sum(act) FILTER (WHERE d = DATE '{{D}}' - 2 AND fwd IS NOT NULL), 0) AS act2,
           coalesce(sum(act) FILTER (WHERE d = DATE '{{D}}' - 3 AND fwd IS NOT NULL), 0) AS act3,
           coalesce(sum(fwd) FILTER (WHERE d = DATE '{{D}}' - 1 AND act IS NOT NULL), 0) AS fwd1,
           coalesce(sum(fwd) FILTER (WHERE d = DATE '{{D}}' - 2 AND act IS NOT NULL), 0) AS fwd2,
           coalesce(sum(fwd) FILTER (WHERE d = DATE '{{D}}' - 3 AND act IS NOT NULL), 0) AS fwd3
    FROM (
      SELECT subscriber_id, cw_day(usage_date) AS d,
             cw_num(calls) + cw_opt(sms) + cw_opt(data_mb) AS act, cw_opt(forwarded_calls) AS fwd
      FROM read_csv('{{dir}}/usage_daily.csv', header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')
    )
    WHERE d BETWEEN DATE '{{D}}' - 3 AND DATE '{{D}}' - 1
    GROUP BY subscriber_id
  ),
  -- Tickets created in [D-90, D-1].
  tickets AS (
    SELECT subscriber_id,
           count(*) FILTER (WHERE kind = 'complaint') AS complaints,
           count(*) FILTER (WHERE kind = 'fault') AS faults
    FROM (
      SELECT subscriber_id, kind, cw_day(created_at) AS d
      FROM read_csv('{{dir}}/tickets.csv', header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')
      WHERE subscriber_id IS NOT NULL AND ticket_id IS NOT NULL AND kind IN ('complaint', 'fault')
    )
    WHERE d BETWEEN DATE '{{D}}' - 90 AND DATE '{{D}}' - 1
    GROUP BY subscriber_id
  ),
  -- Contracts, per subscriber and kind: one not renewed ending in [D, D+30]; one not
  -- renewed ending in [D-30, D-1]; any (renewed or not) ending on or after D.
  contract_kinds AS (
    SELECT subscriber_id,
           bool_or(NOT renewed AND e BETWEEN DATE '{{D}}' AND DATE '{{D}}' + 30) AS expiring,
           bool_or(NOT renewed AND e BETWEEN DATE '{{D}}' - 30 AND DATE '{{D}}' - 1) AS ended,
           bool_or(e >= DATE '{{D}}') AS running
    FROM (
      SELECT subscriber_id, coalesce(kind, '') AS kind, cw_day(end_date) AS e, cw_day(start_date) AS s,
             renewed IN ('1', 'true') AS renewed
      FROM read_csv('{{dir}}/contracts.csv', header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')
      WHERE subscriber_id IS NOT NULL AND contract_id IS NOT NULL AND renewed IN ('0', '1', 'true', 'false')
    )
    WHERE e IS NOT NULL AND s IS NOT NULL
    GROUP BY subscriber_id, kind
  ),
  contracts AS (
    SELECT subscriber_id, bool_or(expiring) AS expiring, bool_or(ended AND NOT running) AS lapsed
    FROM contract_kinds
    GROUP BY subscriber_id
  )
  SELECT
    subscriber_id,
    round((a0 + a1 + a2) / 3, 2) AS value,
    CASE WHEN a0 + a1 + a2 >= 180 THEN 'high' WHEN a0 + a1 + a2 >= 90 THEN 'mid' ELSE 'mass' END AS tier,
    (is_open AND a1 >= 10 AND a0 <= 0.70 * a1)::INTEGER AS arpu_drop_mom,
    (is_open AND a3 >= 10 AND a3 > a2 AND a2 > a1 AND a1 > a0 AND a0 <= 0.80 * a3)::INTEGER AS arpu_decline_3m,
    (status = 'active' AND act1 = 0 AND act2 = 0 AND act3 = 0
       AND (activation IS NULL OR activation <= DATE '{{D}}' - 3))::INTEGER AS silence_3d,
    (is_open AND (complaints >= 2 OR faults >= 3))::INTEGER AS complaints_repeat,
    (is_open AND expiring)::INTEGER AS contract_expiring,
    (is_open AND lapsed)::INTEGER AS contract_lapsed,
    (status = 'suspended_arrears')::INTEGER AS arrears_suspended,
    (status = 'suspended_hold')::INTEGER AS number_hold,
    (is_open AND fwd1 > 0 AND fwd2 > 0 AND fwd3 > 0)::INTEGER AS forwarding_3d,
    (is_open AND hot0 >= 5)::INTEGER AS hotline_calls,
    (is_open AND mou1 >= 60 AND mou0 <= 0.50 * mou1)::INTEGER AS mou_drop,
    (status = 'active' AND balance IS NOT NULL AND balance < 10)::INTEGER AS low_balance
  FROM (
    -- One row per subscriber; a subscriber without rows in a fact file gets 0s.
    SELECT s.subscriber_id, s.status, s.status <> 'closed' AS is_open, s.activation, s.balance,
           coalesce(a0, 0) AS a0, coalesce(a1, 0) AS a1, coalesce(a2, 0) AS a2, coalesce(a3, 0) AS a3,
           coalesce(mou0, 0) AS mou0, coalesce(mou1, 0) AS mou1, coalesce(hot0, 0) AS hot0,
           coalesce(act1, 0) AS act1, coalesce(act2, 0) AS act2, coalesce(act3, 0) AS act3,
           coalesce(fwd1, 0) AS fwd1, coalesce(fwd2, 0) AS fwd2, coalesce(fwd3, 0) AS fwd3,
           coalesce(complaints, 0) AS complaints, coalesce(faults, 0) AS faults,
           coalesce(c.expiring, false) AS expiring, coalesce(c.lapsed, false) AS lapsed
    FROM subs s
    LEFT JOIN months USING (subscriber_id)
    LEFT JOIN days USING (subscriber_id)
    LEFT JOIN tickets USING (subscriber_id)
    LEFT JOIN contracts c USING (subscriber_id)
  )
) TO '{{out}}' (FORMAT csv, HEADER true);
