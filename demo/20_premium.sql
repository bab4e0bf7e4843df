-- Scenario 2: premium-drop monitoring of key customers.
-- This session LISTENs; psql prints each alert after the statement that
-- committed it (notifications are delivered at commit only).
\pset footer off
LISTEN insure_stream_premium_drop;
INSERT INTO insure_stream.raw_info (id, raw_premium, raw_info) VALUES
  (101, '1200.00', 'life policy L-101'),
  (102, '800', 'car policy C-102'),
  (103, NULL, 'new customer, no premium yet'),
  (104, '5000', 'home policy H-104');

\echo 'policy changes arrive (threshold 15%):'
-- 101: 1200 -> 1020 is exactly 15%: no alert; then 1020 -> 700: alert
INSERT INTO insure_stream.update_info (id, channel, event, now_premium, now_info) VALUES
  (101, 'app', 'saved', '1020.00', 'life policy L-101, rider removed');
INSERT INTO insure_stream.update_info (id, channel, event, now_premium, now_info) VALUES
  (101, 'app', 'saved', '700', 'life policy L-101, downgraded');
-- 102 drops twice in one statement; 999 is not a key customer; 103 has no premium
INSERT INTO insure_stream.update_info (id, channel, event, now_premium, now_info) VALUES
  (102, 'web', 'saved', '600', 'car policy C-102, basic'),
  (102, 'web', 'saved', '400', 'car policy C-102, third party only'),
  (999, 'web', 'saved', '1', 'not a key customer'),
  (103, 'app', 'saved', '300', 'new customer, first premium');
-- a rolled-back alert is never delivered
BEGIN;
INSERT INTO insure_stream.update_info (id, channel, event, now_premium, now_info) VALUES
  (104, 'app', 'saved', '100', 'typo, rolled back');
ROLLBACK;
SELECT 1 AS after_rollback;

\echo 'premium_alert (the latest alert per key customer, texts as they were):'
SELECT id, raw_premium, now_premium, raw_info, now_info FROM insure_stream.premium_alert ORDER BY id;
\echo 'raw_info rewritten by every matched event:'
SELECT id, raw_premium, raw_info FROM insure_stream.raw_info ORDER BY id;

\echo 'bad input: a premium that is not a number'
\set ON_ERROR_STOP 0
INSERT INTO insure_stream.update_info (id, event, now_premium) VALUES (104, 'saved', 'twelve hundred');
\set ON_ERROR_STOP 1
UNLISTEN *;
