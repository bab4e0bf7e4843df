-- Long and odd transactions: savepoints, aborts, prepared transactions,
-- REPEATABLE READ and SERIALIZABLE sessions.  Zone Asia/Shanghai,
-- order_window none, threshold 0.15 (the default).
-- 1795572000000 = 2026-11-25 10:00:00 +08
--
-- Notifications: psql prints those that arrive after a command, with the
-- sender's PID; around a COMMIT they are written to a file (\o) and shown
-- with the PID masked (\!), so that a missing one shows as a missing line.
--
-- Prepared transactions need max_prepared_transactions > 0 (the suite's
-- cluster has 10); expected/transactions_1.out is this file's output on a
-- server where they are disabled.
SET TimeZone = 'UTC';
\set h10 1795572000000
\set h11 1795575600000
\set VERBOSITY terse
SELECT insure_stream.configure('order_window', 'none');
LISTEN insure_stream_premium_drop;

CREATE TEMP VIEW hours AS
  SELECT biz_date, total_premium, policy_cnt, policy_holder_cnt FROM insure_stream.hs_order ORDER BY biz_date;
CREATE TEMP VIEW orders AS
  SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM insure_stream.last_order ORDER BY id;
CREATE TEMP VIEW keys AS SELECT id, raw_premium, raw_info FROM insure_stream.raw_info ORDER BY id;
CREATE TEMP VIEW alerts AS
  SELECT id, raw_info, now_info, raw_premium, now_premium FROM insure_stream.premium_alert ORDER BY id;
CREATE TEMP VIEW pages AS
  SELECT account_id, device_id, bury_point_type, page_name FROM insure_stream.user_last_log ORDER BY account_id;
-- everything the triggers keep (results and state) and the event counts
CREATE TEMP VIEW everything AS
  SELECT 'hs_order' AS relation, x::text AS row FROM insure_stream.hs_order x
  UNION ALL SELECT 'last_order', x::text FROM insure_stream.last_order x
  UNION ALL SELECT 'order_state', x::text FROM insure_stream.order_state x
  UNION ALL SELECT 'order_hour_closed', x::text FROM insure_stream.order_hour_closed x
  UNION ALL SELECT 'order_last_closed', x::text FROM insure_stream.order_last_closed x
  UNION ALL SELECT 'premium_alert', x::text FROM insure_stream.premium_alert x
  UNION ALL SELECT 'premium_applied', x::text FROM insure_stream.premium_applied x
  UNION ALL SELECT 'raw_info', x::text FROM insure_stream.raw_info x
  UNION ALL SELECT 'page_state', x::text FROM insure_stream.page_state x
  UNION ALL SELECT 'user_last_log', x::text FROM insure_stream.user_last_log x
  UNION ALL SELECT 'events', (SELECT count(*) FROM insure_stream.user_order) || ' '
     || (SELECT count(*) FROM insure_stream.update_info) || ' '
     || (SELECT count(*) FROM insure_stream.user_log);
CREATE TEMP TABLE saved (relation text, row text);
-- rows that differ from the last saved copy (both ways)
CREATE TEMP VIEW changed AS
  SELECT count(*) AS changed FROM (
    (SELECT * FROM everything EXCEPT ALL SELECT * FROM saved)
    UNION ALL (SELECT * FROM saved EXCEPT ALL SELECT * FROM everything)) d;

INSERT INTO insure_stream.raw_info VALUES
  (1, '100', 'policy-1'), (2, '100', 'policy-2'), (3, '100', 'policy-3'), (4, '100', 'policy-4');

--
-- Savepoints: what a rolled-back savepoint inserted is not counted, what
-- was inserted before and after it is
--
BEGIN;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (1, 'A-1', 'tel-1', :h10, 10), (2, 'A-2', 'tel-2', :h10 + 60000, 20);
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (1, 'saved', '90', 'kept-1');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
  VALUES (:h10, 'dev-1', 'acc-1', 'view', 'home');
SAVEPOINT s1;
-- user 1 moves to 11:00, user 3 is new, key customer 2 drops (an alert),
-- account acc-1 moves to another device
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (1, 'B-1', 'tel-9', :h11, 999), (3, 'B-3', 'tel-3', :h10, 30);
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (2, 'saved', '10', 'rolled-back-2');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
  VALUES (:h10 + 5000, 'dev-2', 'acc-1', 'view', 'rolled back');
SELECT * FROM hours;
SELECT * FROM alerts;
SELECT * FROM pages;
ROLLBACK TO SAVEPOINT s1;
SELECT * FROM hours;
SELECT * FROM alerts;
SELECT * FROM pages;
-- again after the rollback: user 2 moves within 10:00, key customer 3
-- drops (an alert), acc-1 on its device
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (2, 'C-2', 'tel-2', :h10 + 120000, 5);
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES
  (1, 'saved', '80', 'kept-1b'), (3, 'saved', '50', 'kept-3');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
  VALUES (:h10 + 2000, 'dev-1', 'acc-1', 'click', 'quote');
-- a released savepoint keeps its rows
SAVEPOINT s2;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (4, 'D-4', 'tel-4', :h11, 40);
RELEASE SAVEPOINT s2;
-- a savepoint around a statement that fails on bad input, then go on
SAVEPOINT s3;
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble) VALUES
  (5, 'E-5', :h10, 1), (5, 'E-5b', :h10, 'NaN');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO SAVEPOINT s3;
SAVEPOINT s4;
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES
  (4, 'saved', '10', 'not applied'), (4, 'saved', '1,000', 'bad premium');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO SAVEPOINT s4;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (5, 'E-5c', 'tel-5', :h10, 2.5);
-- one notification at commit: key customer 3 (key customer 2's alert was
-- rolled back with its savepoint)
\o results/transactions.notify
COMMIT;
\o
\! sed -e 's/PID [0-9]*/PID N/' results/transactions.notify
-- 10:00: users 1 (10), 2 (5), 3 absent, 5 (2.5); 11:00: user 4 (40)
SELECT * FROM hours;
SELECT * FROM orders;
SELECT * FROM keys;
SELECT * FROM alerts;
SELECT * FROM pages;
SELECT count(*) AS orders, count(*) FILTER (WHERE order_no IN ('B-1', 'B-3', 'E-5', 'E-5b')) AS rolled_back
  FROM insure_stream.user_order;
SELECT * FROM insure_stream.verify();

-- settings changed in a savepoint that is rolled back do not stick: 30 is
-- a drop beyond 0.15 from 50, not beyond 0.9
BEGIN;
SAVEPOINT c;
SELECT insure_stream.configure('drop_threshold', '0.9');
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (4, 'saved', '60', 'under 0.9');
ROLLBACK TO SAVEPOINT c;
SELECT insure_stream.setting('drop_threshold');
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (3, 'saved', '30', 'under 0.15');
\o results/transactions.notify
COMMIT;
\o
\! sed -e 's/PID [0-9]*/PID N/' results/transactions.notify
SELECT * FROM alerts WHERE id IN (3, 4);
SELECT * FROM keys WHERE id IN (3, 4);

--
-- Aborted transactions: results, state and events as before, no NOTIFY
--
INSERT INTO saved SELECT * FROM everything;
BEGIN;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (1, 'X-1', 'tel-x', :h11 + 60000, 500), (6, 'X-6', 'tel-6', :h10, 60);
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (2, 'saved', '1', 'aborted drop');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
  VALUES (:h11, 'dev-9', 'acc-1', 'view', 'aborted'), (:h11, 'dev-9', 'acc-2', 'view', 'aborted');
SELECT * FROM alerts WHERE id = 2;
SELECT changed > 0 AS changed_inside FROM changed;
\o results/transactions.notify
ROLLBACK;
\o
\! sed -e 's/PID [0-9]*/PID N/' results/transactions.notify
SELECT * FROM changed;

-- a transaction ended by an error after an alert: the same
BEGIN;
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (2, 'saved', '1', 'aborted drop');
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) VALUES (7, 'Y-7', 4102444800000);
\echo :LAST_ERROR_SQLSTATE
\o results/transactions.notify
COMMIT;
\o
\! sed -e 's/PID [0-9]*/PID N/' results/transactions.notify
SELECT * FROM changed;

--
-- Prepared transactions (two-phase commit)
--
-- prepared: invisible until COMMIT PREPARED, then counted
BEGIN;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (10, 'P-10', 'tel-10', :h10 + 600000, 100), (1, 'P-1', 'tel-1', :h10 + 300000, 11);
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (1, 'saved', '75', 'prepared-1');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
  VALUES (:h11, 'dev-p', 'acc-p', 'view', 'prepared');
PREPARE TRANSACTION 'insure_stream_tx_1';
SELECT gid FROM pg_prepared_xacts WHERE database = current_database();
SELECT * FROM changed;
SELECT * FROM orders WHERE id IN (1, 10);
-- the prepared transaction holds this session's writer slot (its partial
-- row of the 10:00 figures): another order of that hour from this session
-- takes another slot and does not wait (lock_timeout would show it)
SET lock_timeout = '100ms';
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble) VALUES (11, 'W-11', :h10, 1);
RESET lock_timeout;
COMMIT PREPARED 'insure_stream_tx_1';
SELECT * FROM hours;
SELECT * FROM orders WHERE id IN (1, 10);
SELECT * FROM keys WHERE id = 1;
SELECT * FROM pages WHERE account_id = 'acc-p';
SELECT * FROM insure_stream.verify();

-- rolled back after PREPARE: nothing is left
DELETE FROM saved;
INSERT INTO saved SELECT * FROM everything;
BEGIN;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (12, 'R-12', 'tel-12', :h10, 12), (2, 'R-2', 'tel-r', :h11, 22);
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (4, 'saved', '95', 'prepared-4');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
  VALUES (:h11 + 1000, 'dev-r', 'acc-1', 'view', 'prepared then rolled back');
PREPARE TRANSACTION 'insure_stream_tx_2';
ROLLBACK PREPARED 'insure_stream_tx_2';
SELECT * FROM changed;
SELECT count(*) AS prepared FROM pg_prepared_xacts WHERE database = current_database();

-- an alert sends a NOTIFY, and PostgreSQL cannot PREPARE a transaction that
-- executed NOTIFY (SQLSTATE 0A000): the PREPARE fails and rolls back
BEGIN;
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble) VALUES (13, 'N-13', :h10, 13);
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (2, 'saved', '10', 'drop in 2PC');
PREPARE TRANSACTION 'insure_stream_tx_3';
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS prepared FROM pg_prepared_xacts WHERE database = current_database();
SELECT * FROM changed;

--
-- REPEATABLE READ and SERIALIZABLE sessions: single-row and multi-row
-- statements into the three tables, in autocommit and in one transaction
--
SET default_transaction_isolation = 'repeatable read';
SHOW transaction_isolation;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
  VALUES (20, 'RR-20', 'tel-20', :h10, 20);
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (21, 'RR-21', 'tel-20', :h10, 21), (20, 'RR-20b', 'tel-20', :h11, 19), (22, 'RR-22', NULL, :h11, NULL);
\o results/transactions.notify
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (4, 'saved', '40', 'rr-4');
\o
\! sed -e 's/PID [0-9]*/PID N/' results/transactions.notify
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES
  (4, 'saved', '45', 'rr-4b'), (2, 'saved', '95', 'rr-2');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
  VALUES (:h10, 'dev-rr', 'acc-rr', 'view', 'rr-1');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES
  (:h10 + 1000, 'dev-rr', 'acc-rr', NULL, 'rr-2'), (:h10 + 500, 'dev-rr2', 'acc-rr', 'click', 'rr-late');
BEGIN;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
  VALUES (21, 'RR-21b', 'tel-21', :h11, 7);
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (20, 'RR-20c', 'tel-20', :h10 + 1000, 3), (23, 'RR-23', 'tel-23', :h10, 23);
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (2, 'saved', '90', 'rr-2b');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
  VALUES (:h10 + 2000, 'dev-rr2', 'acc-rr', 'view', 'rr-3');
SELECT * FROM hours;
COMMIT;
SELECT * FROM orders WHERE id BETWEEN 20 AND 29;
SELECT * FROM keys WHERE id IN (2, 4);
SELECT * FROM alerts WHERE id = 4;
SELECT * FROM pages WHERE account_id = 'acc-rr';
SELECT * FROM insure_stream.verify();

SET default_transaction_isolation = 'serializable';
SHOW transaction_isolation;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
  VALUES (30, 'S-30', 'tel-30', :h10, 30);
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (31, 'S-31', 'tel-30', :h11, 31), (30, 'S-30b', 'tel-30b', :h10 + 1000, 29), (20, 'S-20', 'tel-20', :h11 + 1000, 1);
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (1, 'saved', '70', 's-1');
\o results/transactions.notify
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES
  (1, 'saved', '50', 's-1b'), (1, 'saved', '49', 's-1c'), (3, 'saved', '35', 's-3');
\o
\! sed -e 's/PID [0-9]*/PID N/' results/transactions.notify
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
  VALUES (:h10, 'dev-s', 'acc-s', 'view', 's-1');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES
  (:h10 + 1000, 'dev-s2', 'acc-s', 'view', 's-2'), (:h10 + 1000, 'dev-s', 'acc-s', 'click', 's-tie');
BEGIN;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
  VALUES (31, 'S-31b', 'tel-31', :h10, 8);
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (30, 'S-30c', 'tel-30', :h11, 4), (32, 'S-32', 'tel-32', :h10, 32);
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (3, 'saved', '36', 's-3b');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
  VALUES (:h10 + 3000, 'dev-s2', 'acc-s', NULL, 's-3');
COMMIT;
SELECT * FROM hours;
SELECT * FROM orders WHERE id BETWEEN 20 AND 39;
SELECT * FROM keys WHERE id IN (1, 3);
SELECT * FROM alerts WHERE id IN (1, 3);
SELECT * FROM pages WHERE account_id = 'acc-s';
SELECT * FROM insure_stream.verify();
RESET default_transaction_isolation;

--
-- A long transaction: 300 single-row statements into each table, users
-- moving between hours again and again, premiums rising (no alert)
--
BEGIN;
INSERT INTO insure_stream.raw_info VALUES (50, '1', 'long-a'), (51, '1', 'long-b'), (52, '1', 'long-c');
DO $$
BEGIN
  FOR i IN 1..300 LOOP
    INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
      VALUES (40 + i % 7, 'L-' || i, 'tel-' || (i % 5), 1795572000000 + (i % 3) * 3600000 + i * 1000, i / 4.0);
    INSERT INTO insure_stream.update_info (id, event, now_premium, now_info)
      VALUES (50 + i % 3, 'saved', (100 + i)::text, 'long-' || i);
    INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
      VALUES (1795572000000 + (i % 11) * 1000, 'dev-' || (i % 2), 'acc-long-' || (i % 4), 'view', 'long-' || i);
  END LOOP;
END
$$;
COMMIT;
SELECT * FROM hours;
SELECT * FROM orders WHERE id >= 40;
SELECT * FROM keys WHERE id >= 50;
SELECT * FROM pages WHERE account_id LIKE 'acc-long-%';
SELECT * FROM insure_stream.verify();

-- leave the database as we found it
\! rm -f results/transactions.notify
UNLISTEN insure_stream_premium_drop;
TRUNCATE insure_stream.user_order, insure_stream.order_state, insure_stream.order_hour_closed,
  insure_stream.order_last_closed, insure_stream.update_info, insure_stream.raw_info,
  insure_stream.premium_alert, insure_stream.premium_applied, insure_stream.user_log,
  insure_stream.page_state;
SELECT setval('insure_stream.user_order_ingest_seq_seq', 1, false),
       setval('insure_stream.update_info_ingest_seq_seq', 1, false),
       setval('insure_stream.user_log_ingest_seq_seq', 1, false);
DELETE FROM insure_stream.config WHERE NOT is_default AND name <> 'time_zone';
DROP VIEW changed, everything, hours, orders, keys, alerts, pages;
DROP TABLE saved;
