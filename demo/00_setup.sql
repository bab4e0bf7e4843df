-- insure_stream demo: create the extension in a fresh database, choose the
-- zone of days and hours, and set up the two roles an application uses.
\set QUIET on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION insure_stream;
RESET client_min_messages;
SELECT insure_stream.configure('time_zone', 'Asia/Shanghai') AS time_zone;
SELECT name, value FROM insure_stream.settings ORDER BY name;

-- demo_app ingests events, demo_monitor reads results (roles are global to
-- the cluster: made once)
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_app') THEN
		CREATE ROLE demo_app;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_monitor') THEN
		CREATE ROLE demo_monitor;
	END IF;
END
$$;
SELECT insure_stream.grant_ingest('demo_app');
SELECT insure_stream.grant_read('demo_monitor');
\echo 'demo_app may insert the events, not the arrival order (the server assigns ingest_seq):'
SELECT has_column_privilege('demo_app', 'insure_stream.user_order', 'id', 'INSERT') AS insert_id,
       has_column_privilege('demo_app', 'insure_stream.user_order', 'ingest_seq', 'INSERT') AS insert_ingest_seq,
       has_table_privilege('demo_app', 'insure_stream.hs_order', 'SELECT') AS read_results;
