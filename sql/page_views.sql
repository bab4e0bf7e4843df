-- Scenario 3: last page per account, from user_log and track_page()
SET TimeZone = 'UTC';
CREATE TEMP VIEW pages AS
  SELECT account_id, device_id, bury_point_type, page_name FROM insure_stream.user_last_log ORDER BY account_id;

-- nulls are skipped per column; the latest log_time wins
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES
  (1000, 'phone', 'a1', 'view', 'home'),
  (2000, 'phone', 'a1', NULL, 'detail'),
  (1500, 'phone', 'a1', 'click', NULL);
SELECT * FROM pages;

-- a late (older) event never overwrites newer values, and never moves the device
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES
  (3000, 'pad', 'a1', 'view', 'cart'),
  (2500, 'phone', 'a1', 'buy', 'pay');
SELECT * FROM pages;
-- a late row fills a null column of the current pair
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES
  (3500, 'laptop', 'a2', NULL, 'home'),
  (100, 'laptop', 'a2', 'view', 'old-page');
SELECT * FROM pages WHERE account_id = 'a2';

-- ties on log_time go to the row ingested later
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES
  (5000, 'd', 'a3', 't1', 'first'), (5000, 'd', 'a3', 't2', 'second');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES
  (5000, 'e', 'a3', 't3', 'other device, same time, later');
SELECT * FROM pages WHERE account_id = 'a3';

-- switching devices and back
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES (4000, 'phone', 'a1', 'view', 'back-on-phone');
SELECT * FROM pages WHERE account_id = 'a1';

-- a null device is a device of its own; '' is a real device (and account)
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES
  (100, NULL, 'a4', 'view', 'null-device'),
  (200, '', 'a4', 'view', 'empty-device'),
  (150, NULL, 'a4', 'click', NULL),
  (10, 'x', '', 'view', 'empty-account');
SELECT account_id, device_key, device_id, log_time, bury_point_type, page_name
  FROM insure_stream.page_state WHERE account_id IN ('a4', '') ORDER BY 1, 2;
SELECT * FROM pages WHERE account_id IN ('a4', '');

-- rows without account_id or log_time are kept and filtered
INSERT INTO insure_stream.user_log (log_time, device_id, account_id) VALUES (1, 'x', NULL), (NULL, 'x', 'a5');
SELECT count(*) AS a5_rows FROM insure_stream.user_last_log WHERE account_id = 'a5';
SELECT accepted, filtered, rejected FROM insure_stream.event_classes() WHERE table_name = 'user_log';

-- COPY and multi-row statements fold per (account, device)
COPY insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) FROM STDIN WITH (FORMAT csv);
7000,tv,a6,view,p1
7002,tv,a6,,p3
7001,tv,a6,click,p2
\.
SELECT * FROM pages WHERE account_id = 'a6';
-- a value set by the pair's latest event is stored without a time and
-- number of its own (NULL _at/_seq: they are the row's); a value set by an
-- older event keeps its own
SELECT account_id, device_key, log_time, bury_point_type, bury_point_type_at,
       bury_point_type_seq IS NULL AS type_seq_null, page_name, page_name_at,
       page_name_seq IS NULL AS page_seq_null
  FROM insure_stream.page_state WHERE account_id = 'a6';

-- track_page(): same state, ordered with the log; mixing both paths
SELECT insure_stream.track_page('a6', 'tv', 'buy', NULL, 7003);
SELECT insure_stream.track_page('a7', NULL, 'view', 'only-calls', 10);
SELECT insure_stream.track_page(NULL, 'x', 'view', 'ignored', 10);
SELECT * FROM pages WHERE account_id IN ('a6', 'a7');
SELECT account_id, from_calls FROM insure_stream.page_state WHERE account_id IN ('a6', 'a7') ORDER BY 1;
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES (6999, 'tv', 'a6', 'old', 'older');
SELECT * FROM pages WHERE account_id = 'a6';

-- everything fed by the log alone matches a recomputation; rebuild keeps all
SELECT * FROM insure_stream.verify();
CREATE TEMP TABLE pages_before AS SELECT * FROM pages;
CREATE TEMP TABLE pairs_before AS SELECT * FROM insure_stream.page_state;
SELECT insure_stream.rebuild();
SELECT * FROM pages EXCEPT SELECT * FROM pages_before;
SELECT * FROM pages_before EXCEPT SELECT * FROM pages;
-- every pair as it was, times and ordering keys included (a6's mixes calls
-- and log rows: rebuild merged the log into it)
SELECT count(*) AS pairs_changed_by_rebuild FROM (
  SELECT * FROM pairs_before EXCEPT SELECT * FROM insure_stream.page_state) d;
SELECT * FROM insure_stream.verify();

-- the latest device moves on without changing what it shows (its row is
-- left alone); a device in between must still not win
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name) VALUES (200, 'pad', 'a9', 'B');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name) VALUES (400, 'pad', 'a9', 'B');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name) VALUES (300, 'phone', 'a9', 'C');
SELECT * FROM pages WHERE account_id = 'a9';
-- a late view of another device changes that device's pair only
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name) VALUES (250, 'phone', 'a9', 'D');
SELECT * FROM pages WHERE account_id = 'a9';
SELECT * FROM insure_stream.verify();
-- user_last_log is a view over page_state, as last_order and hs_order are
-- views over theirs: it is read, never written, and a filter on account_id
-- reaches the index (one short scan per account)
DELETE FROM insure_stream.user_last_log WHERE account_id = 'a9';
SELECT relkind FROM pg_class WHERE oid = 'insure_stream.user_last_log'::regclass;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM insure_stream.user_last_log WHERE account_id = 'a9';
RESET enable_seqscan;
RESET enable_bitmapscan;

-- a statement whose views do not fit the fold (16 x work_mem) writes them
-- as sorted runs to temporary files and merges the runs: 30000 views of
-- 19285 pairs, shuffled, many pairs in several runs, null devices and long
-- page names (records of their own) among them; the result equals a
-- recomputation
SET work_mem = '64kB';
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
SELECT 1000 + g % 7919, CASE WHEN g % 7 = 0 THEN NULL ELSE 'd' || g % 3 END, 'bulk' || g % 5000,
       CASE WHEN g % 4 = 0 THEN NULL ELSE 't' || g % 11 END,
       CASE WHEN g % 5 = 0 THEN NULL WHEN g % 997 = 0 THEN repeat('long', 3000) || g ELSE 'p' || g END
  FROM generate_series(1, 30000) g ORDER BY hashint4(g);
RESET work_mem;
SELECT count(*) AS pairs, count(*) FILTER (WHERE device_id IS NULL) AS null_devices
  FROM insure_stream.page_state WHERE account_id LIKE 'bulk%';
SELECT count(*) AS accounts, count(DISTINCT device_id) AS devices,
       count(*) FILTER (WHERE page_name LIKE 'long%') AS long_pages
  FROM insure_stream.user_last_log WHERE account_id LIKE 'bulk%';
SELECT * FROM insure_stream.verify();

-- a large statement of mostly new pairs tries inserting before looking
-- (direct.c); the few that exist are merged after all (their speculative
-- tuples killed: the deletions counted below), never duplicated
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name)
SELECT 5000 + g, 'd', 'mix' || lpad(g::text, 5, '0'), 'old' || g FROM generate_series(1, 4000, 50) g;
SELECT pg_stat_force_next_flush();  -- the counts below are this transaction's alone
BEGIN;
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name)
SELECT 6000 + g, 'd', 'mix' || lpad(g::text, 5, '0'), 'new' || g FROM generate_series(1, 4000) g;
SELECT n_tup_upd AS merged, n_tup_del > 0 AS inserted_first FROM pg_stat_xact_all_tables
 WHERE relid = 'insure_stream.page_state'::regclass;
COMMIT;
SELECT count(*) AS accounts, count(*) FILTER (WHERE page_name LIKE 'new%') AS newest
  FROM insure_stream.user_last_log WHERE account_id LIKE 'mix%';
SELECT * FROM insure_stream.verify();

-- long keys and values: the stored row is compressed (device_key too),
-- and the pair must still be found
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
VALUES (1, repeat('d', 1000), repeat('a', 1000), repeat('t', 3000), repeat('p', 5000));
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
VALUES (2, repeat('d', 1000), repeat('a', 1000), repeat('t', 3001), repeat('p', 5001));
SELECT length(device_id), length(bury_point_type), length(page_name)
  FROM insure_stream.user_last_log WHERE account_id = repeat('a', 1000);
SELECT * FROM insure_stream.verify();

-- bad input: an event time beyond max_future
\set VERBOSITY default
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name) VALUES (1, 'd', 'a8', 'ok'), (4102444800000, 'd', 'a8', 'future');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS a8_rows FROM insure_stream.user_last_log WHERE account_id = 'a8';
SELECT insure_stream.track_page('a8', 'd', 'view', 'future', 4102444800000);
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.configure('on_bad_input', 'quarantine');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name) VALUES (1, 'd', 'a8', 'ok'), (4102444800000, 'd', 'a8', 'future');
SELECT * FROM pages WHERE account_id = 'a8';
SELECT table_name, column_name, bad_value, reason, event->>'page_name' AS page_name
  FROM insure_stream.rejected_events WHERE table_name = 'user_log';
SELECT insure_stream.configure('on_bad_input', 'error');
\set VERBOSITY terse
SELECT * FROM insure_stream.verify();

-- rows written before 0.2.1 carry the row's own time and number in
-- _at/_seq: they are read, merged into and verified as the short form
UPDATE insure_stream.page_state
   SET page_name_at = log_time, page_name_seq = log_seq
 WHERE account_id LIKE 'bulk%' AND page_name IS NOT NULL AND page_name_at IS NULL;
SELECT count(*) > 0 AS long_form_rows FROM insure_stream.page_state
 WHERE account_id LIKE 'bulk%' AND page_name_at = log_time;
SELECT * FROM insure_stream.verify();
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
SELECT 20000 + g % 3, 'd' || g % 3, 'bulk' || g % 5000, NULL, 'late' || g
  FROM generate_series(1, 900, 7) g;
SELECT count(*) AS short_form_again FROM insure_stream.page_state
 WHERE account_id LIKE 'bulk%' AND page_name LIKE 'late%' AND page_name_at IS NULL;
SELECT * FROM insure_stream.verify();

-- user_last_log_of(): the view's rows of the accounts given, all when
-- NULL; an unknown or a null account matches nothing
SELECT (SELECT count(*) FROM insure_stream.user_last_log) > 0 AS some_accounts,
       (SELECT count(*) FROM (SELECT * FROM insure_stream.user_last_log_of()
                              EXCEPT ALL SELECT * FROM insure_stream.user_last_log) d) AS extra,
       (SELECT count(*) FROM (SELECT * FROM insure_stream.user_last_log
                              EXCEPT ALL SELECT * FROM insure_stream.user_last_log_of(NULL)) d) AS missing;
SELECT * FROM insure_stream.user_last_log_of(ARRAY['bulk7', 'a8', 'nobody', NULL]) ORDER BY account_id;
SELECT array_agg(l::text ORDER BY l.account_id) = (SELECT array_agg(f::text ORDER BY f.account_id)
         FROM insure_stream.user_last_log_of(ARRAY['bulk7', 'a8', 'nobody', NULL]) f) AS same_rows
  FROM insure_stream.user_last_log l WHERE l.account_id IN ('bulk7', 'a8');

-- the log is append-only
DELETE FROM insure_stream.user_log;

-- leave the database as we found it
TRUNCATE insure_stream.user_log, insure_stream.page_state,
  insure_stream.rejected_events;
DELETE FROM insure_stream.config WHERE NOT is_default AND name <> 'time_zone';
DROP VIEW pages;
