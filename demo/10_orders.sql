-- Scenario 1: hourly operations figures, kept as the orders arrive.
-- A replay of one day (2026-11-24, Asia/Shanghai), so every day is open:
-- order_window = none.  (The default, day, counts only today's orders, as
-- the seed job did.)
\pset footer off
SELECT insure_stream.configure('order_window', 'none') AS order_window;

-- 3000 orders of 400 users between 08:00 and 22:00, streamed in 6 batches
-- in time order; ~10% of amounts, order numbers and phones are null
-- (deterministic pseudo-random values from hashes of the row number)
CREATE TEMP TABLE demo_orders AS
SELECT 1 + (h1 % 400) AS id,
       CASE WHEN h2 % 10 = 0 THEN NULL ELSE 'PO' || lpad(g::text, 6, '0') END AS order_no,
       CASE WHEN h3 % 10 = 0 THEN NULL ELSE '1380000' || lpad((1 + h1 % 400)::text, 4, '0') END AS customer_tel,
       (extract(epoch FROM timestamptz '2026-11-24 08:00:00+08') * 1000)::bigint
         + h4 % (14 * 3600 * 1000) AS gmt_modified,
       CASE WHEN h5 % 10 = 0 THEN NULL ELSE round(50 + (h5 % 95000) / 100.0, 2)::float8 END AS account_payble,
       1 + h6 % 6 AS batch
  FROM generate_series(1, 3000) g,
       LATERAL (SELECT abs(hashint4(g))::bigint AS h1, abs(hashint4(g + 100000))::bigint AS h2,
                       abs(hashint4(g + 200000))::bigint AS h3, abs(hashint8(g + 300000))::bigint AS h4,
                       abs(hashint4(g + 400000))::bigint AS h5, abs(hashint4(g + 500000))::bigint AS h6) h;

INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM demo_orders WHERE batch = 1 ORDER BY gmt_modified;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM demo_orders WHERE batch = 2 ORDER BY gmt_modified;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM demo_orders WHERE batch = 3 ORDER BY gmt_modified;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM demo_orders WHERE batch = 4 ORDER BY gmt_modified;
-- late events: batch 5 arrives newest first
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM demo_orders WHERE batch = 5 ORDER BY gmt_modified DESC;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM demo_orders WHERE batch = 6 ORDER BY gmt_modified;

\echo
\echo 'hs_order for 2026-11-24: premium sum, distinct policies and holders of the users whose last order lies in each hour'
SELECT h.biz_date, round(h.total_premium::numeric, 2) AS total_premium, h.policy_cnt, h.policy_holder_cnt,
       repeat('#', (40 * h.total_premium / max(h.total_premium) OVER ())::int) AS premium_chart
  FROM insure_stream.hs_order h
 WHERE h.biz_date LIKE '20261124%'
 ORDER BY h.biz_date;

\echo 'user 7 moves: a late-evening order takes them out of their old hour'
SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM insure_stream.last_order WHERE id = 7;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
VALUES (7, 'PO-LATE', '13800000007', (extract(epoch FROM timestamptz '2026-11-24 23:30:00+08') * 1000)::bigint, 1234.5);
SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM insure_stream.last_order WHERE id = 7;
SELECT biz_date, total_premium, policy_cnt, policy_holder_cnt
  FROM insure_stream.hs_order WHERE biz_date = '2026112423';

\echo 'the same figures recomputed from the log by verify(): no differences'
SELECT count(*) AS differences FROM insure_stream.verify();

-- back to the seed's window: only today's orders count
SELECT insure_stream.configure('order_window', 'day') AS order_window;
SELECT count(*) AS users_with_orders_today FROM insure_stream.last_order;
