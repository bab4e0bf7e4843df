-- Scenario 1: hourly operations figures, kept as the orders arrive.
-- Today's orders in the configured zone: with order_window = day (the
-- default, as the seed job) orders count from the start of the current
-- local day.  The demo's dates follow today; its values do not change.
\set QUIET on
\pset footer off
-- today and the start of today (epoch ms) in the configured zone, with the
-- extension's time helpers (Hive/Flink style, epoch seconds)
SELECT insure_stream.from_unixtime(insure_stream.unix_timestamp(), 'yyyyMMdd') AS today,
       insure_stream.unix_timestamp(insure_stream.from_unixtime(insure_stream.unix_timestamp(), 'yyyy-MM-dd'),
                                    'yyyy-MM-dd') * 1000 AS day0 \gset

-- 3000 orders of 1000 users between 08:00 and 22:00 today, streamed in 6
-- batches; ~10% of amounts, order numbers and phones are null
-- (deterministic pseudo-random values from hashes of the row number)
CREATE TEMP TABLE demo_orders AS
SELECT 1 + (h1 % 1000) AS id,
       CASE WHEN h2 % 10 = 0 THEN NULL ELSE 'PO' || lpad(g::text, 6, '0') END AS order_no,
       CASE WHEN h3 % 10 = 0 THEN NULL ELSE '1380000' || lpad((1 + h1 % 1000)::text, 4, '0') END AS customer_tel,
       :day0 + 8 * 3600 * 1000 + h4 % (14 * 3600 * 1000) AS gmt_modified,
       CASE WHEN h5 % 10 = 0 THEN NULL ELSE round(50 + (h5 % 95000) / 100.0, 2)::float8 END AS account_payble,
       1 + h6 % 6 AS batch
  FROM generate_series(1, 3000) g,
       LATERAL (SELECT abs(hashint4(g))::bigint AS h1, abs(hashint4(g + 100000))::bigint AS h2,
                       abs(hashint4(g + 200000))::bigint AS h3, abs(hashint8(g + 300000))::bigint AS h4,
                       abs(hashint4(g + 400000))::bigint AS h5, abs(hashint4(g + 500000))::bigint AS h6) h;

\echo 'the orders arrive in six statements, batch 5 newest first (late events)'
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM demo_orders WHERE batch = 1 ORDER BY gmt_modified;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM demo_orders WHERE batch = 2 ORDER BY gmt_modified;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM demo_orders WHERE batch = 3 ORDER BY gmt_modified;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM demo_orders WHERE batch = 4 ORDER BY gmt_modified;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM demo_orders WHERE batch = 5 ORDER BY gmt_modified DESC;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM demo_orders WHERE batch = 6 ORDER BY gmt_modified;

\echo
\echo 'hs_order for today, read as demo_monitor: premium sum, distinct policies and holders of the users whose last order lies in each hour'
SET ROLE demo_monitor;
SELECT h.biz_date, round(h.total_premium::numeric, 2) AS total_premium, h.policy_cnt, h.policy_holder_cnt,
       repeat('#', (40 * h.total_premium / max(h.total_premium) OVER ())::int) AS premium_chart
  FROM insure_stream.hs_order h
 WHERE h.biz_date LIKE :'today' || '%'
 ORDER BY h.biz_date;
RESET ROLE;

\echo 'user 7 moves: a late-evening order takes them out of their old hour'
SELECT id, order_no, customer_tel, insure_stream.from_unixtime(gmt_modified / 1000, 'HH:mm') AS local_time, account_payble
  FROM insure_stream.last_order WHERE id = 7;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
VALUES (7, 'PO-LATE', '13800000007', :day0 + (23 * 60 + 30) * 60 * 1000, 1234.5);
SELECT id, order_no, customer_tel, insure_stream.from_unixtime(gmt_modified / 1000, 'HH:mm') AS local_time, account_payble
  FROM insure_stream.last_order WHERE id = 7;
SELECT biz_date, total_premium, policy_cnt, policy_holder_cnt
  FROM insure_stream.hs_order WHERE biz_date = :'today' || '23';

\echo 'an order of yesterday arrives today: kept in the log, filtered from the results (order_window = day)'
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
VALUES (8, 'PO-OLD', '13800000008', :day0 - 4 * 3600 * 1000, 99.0);
SELECT count(*) AS user_8_orders_in_log,
       (SELECT order_no FROM insure_stream.last_order WHERE id = 8) AS user_8_last_order_no
  FROM insure_stream.user_order WHERE id = 8;

\echo 'the same figures recomputed from the log by verify(): no differences'
SELECT count(*) AS differences FROM insure_stream.verify();
