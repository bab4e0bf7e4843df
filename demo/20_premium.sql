-- Scenario 2: premium-drop alerts for key customers.
-- This session LISTENs, as a monitoring client would.  psql prints each
-- notification after the statement whose transaction sent it (delivered at
-- commit only).  The payload carries the key customer's id; the monitor
-- reads the alert with its own rights.
\set QUIET on
\pset footer off
\echo 'key customers (raw_info, kept by operators):'
INSERT INTO insure_stream.raw_info (id, raw_premium, raw_info) VALUES
  (101, '1200.00', 'life policy L-101'),
  (102, '800', 'car policy C-102'),
  (103, NULL, 'new customer, no premium yet'),
  (104, '5000', 'home policy H-104');

LISTEN insure_stream_premium_drop;

\echo 'policy changes arrive from demo_app (threshold 15%):'
SET ROLE demo_app;
-- 101: 1200 -> 1020 is exactly 15%: no alert
INSERT INTO insure_stream.update_info (id, channel, event, now_premium, now_info) VALUES
  (101, 'app', 'saved', '1020.00', 'life policy L-101, rider removed');
-- 101: 1020 -> 700: an alert
INSERT INTO insure_stream.update_info (id, channel, event, now_premium, now_info) VALUES
  (101, 'app', 'saved', '700', 'life policy L-101, downgraded');
-- 102 drops twice in one statement (one notification: PostgreSQL folds
-- equal payloads of a transaction); 999 is not a key customer; 103 had no premium
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
RESET ROLE;

\echo 'the monitor reads the alerts it was notified of, as demo_monitor (texts as they were before the change):'
SET ROLE demo_monitor;
SELECT id, raw_premium, now_premium, raw_info, now_info FROM insure_stream.premium_alert WHERE id IN (101, 102) ORDER BY id;
RESET ROLE;
\echo 'raw_info rewritten by every matched event:'
SELECT id, raw_premium, raw_info FROM insure_stream.raw_info ORDER BY id;

\echo 'bad input: a premium that is not a number (class 22 error; the statement changes nothing)'
\set ON_ERROR_STOP 0
INSERT INTO insure_stream.update_info (id, event, now_premium) VALUES (104, 'saved', 'twelve hundred');
\set ON_ERROR_STOP 1
UNLISTEN *;
