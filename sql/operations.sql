-- operations from psql: status(), maintenance(), purge_events(), pg_cron
SET TimeZone = 'UTC';
SELECT insure_stream.configure('order_window', 'none');

-- events 30 days old and of today, per (user, day)
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (501, 'old-a', 'tel-a', (extract(epoch FROM now() - interval '30 days') * 1000)::bigint, 10),
  (502, 'old-b', 'tel-b', (extract(epoch FROM now() - interval '30 days') * 1000)::bigint, 20),
  (501, 'new-a', 'tel-a', (extract(epoch FROM now()) * 1000)::bigint, 1),
  (NULL, 'no-user', NULL, NULL, NULL);
SELECT section, name, value FROM insure_stream.status()
 WHERE section IN ('events', 'results') ORDER BY section, name;
SELECT (SELECT count(*) FROM insure_stream.status) = (SELECT count(*) FROM insure_stream.status())
       AS status_view_matches;
SELECT count(*) > 0 AS has_state_sizes FROM insure_stream.status() WHERE section = 'state';

-- retention: whole days older than the interval go, results stay
CREATE TEMP TABLE hours_before AS SELECT * FROM insure_stream.hs_order;
SELECT table_name, events_removed FROM insure_stream.purge_events('5 days') ORDER BY table_name;
SELECT id, order_no FROM insure_stream.user_order ORDER BY ingest_seq;
SELECT name, value FROM insure_stream.status() WHERE name LIKE '% purged' ORDER BY name;
SELECT count(*) AS hours_changed FROM (
  SELECT * FROM insure_stream.hs_order EXCEPT SELECT * FROM hours_before) d;
-- a re-derive keeps the purged days' results
SELECT insure_stream.rebuild();
SELECT count(*) AS hours_changed_by_rebuild FROM (
  (SELECT * FROM insure_stream.hs_order EXCEPT SELECT * FROM hours_before)
  UNION ALL
  (SELECT * FROM hours_before EXCEPT SELECT * FROM insure_stream.hs_order)) d;
SELECT * FROM insure_stream.verify();
SELECT insure_stream.purge_events('-1 day');
\echo :LAST_ERROR_SQLSTATE

-- the log guard cannot be sidestepped through the internal purge function
SELECT insure_stream.purge_event_rows('raw_info', 0, now());
\echo :LAST_ERROR_SQLSTATE

-- maintenance: compaction and, with a retention setting, purge
SELECT insure_stream.configure('retention', '40 days');
SELECT task, affected >= 0 AS ran FROM insure_stream.maintenance() ORDER BY task;
SELECT name FROM insure_stream.maintenance_state ORDER BY name;
SELECT insure_stream.configure('retention', 'forever');
\echo :LAST_ERROR_SQLSTATE

-- pg_cron is not installed in this database: a clear error with a hint
\set VERBOSITY default
SELECT insure_stream.schedule_maintenance();
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.unschedule_maintenance();
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse

-- Citus is not installed in this database: distribute() says so and
-- changes nothing; forward_alerts() finds nothing (the trigger notifies)
\set VERBOSITY default
SELECT * FROM insure_stream.distribute();
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
SELECT * FROM insure_stream.distribute(0);
SELECT insure_stream.forward_alerts();
SELECT count(*) FROM insure_stream.alert_outbox;
-- drop_shards() is for a cluster: on one server it refuses and drops nothing
\set VERBOSITY default
SELECT * FROM insure_stream.drop_shards();
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
SELECT count(*) > 0 AS tables_still_there FROM pg_class WHERE relnamespace = 'insure_stream'::regnamespace;

-- leave the database as we found it
TRUNCATE insure_stream.user_order, insure_stream.order_state, insure_stream.order_hour_closed,
  insure_stream.order_last_closed, insure_stream.maintenance_state;
DELETE FROM insure_stream.config WHERE NOT is_default AND name <> 'time_zone';
SELECT setval('insure_stream.user_order_ingest_seq_seq', 1, false);
