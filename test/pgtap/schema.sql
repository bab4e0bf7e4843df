-- The schema contract (README "Usage", "Settings", "SQL building blocks"; docs/design.md)
-- and "Operations", checked with pgTAP (run by pg_prove).
BEGIN;
SELECT plan(98);

SELECT has_schema('insure_stream');

-- event tables: the SPEC columns in order, then ours
SELECT columns_are('insure_stream', 'user_order', ARRAY[
  'id', 'order_no', 'order_type', 'pay_time', 'order_price', 'customer_name', 'customer_tel',
  'certificate_no', 'gmt_created', 'gmt_modified', 'account_payble', 'ingest_seq', 'ingested_at']);
SELECT results_eq(
  $$SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod) FROM pg_attribute
     WHERE attrelid = 'insure_stream.user_order'::regclass AND attnum > 0 AND NOT attisdropped AND attnum <= 11
     ORDER BY attnum$$,
  $$VALUES ('id', 'bigint'), ('order_no', 'character varying'), ('order_type', 'bigint'),
           ('pay_time', 'bigint'), ('order_price', 'double precision'), ('customer_name', 'character varying'),
           ('customer_tel', 'character varying'), ('certificate_no', 'character varying'),
           ('gmt_created', 'bigint'), ('gmt_modified', 'bigint'), ('account_payble', 'double precision')$$,
  'user_order has the SPEC columns, types and order');
SELECT columns_are('insure_stream', 'update_info', ARRAY[
  'id', 'channel', 'open_id', 'event', 'now_premium', 'creator', 'modifier', 'gmt_modified',
  'now_info', 'ingest_seq', 'ingested_at']);
SELECT results_eq(
  $$SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod) FROM pg_attribute
     WHERE attrelid = 'insure_stream.update_info'::regclass AND attnum > 0 AND NOT attisdropped AND attnum <= 9
     ORDER BY attnum$$,
  $$VALUES ('id', 'bigint'), ('channel', 'character varying'), ('open_id', 'character varying'),
           ('event', 'character varying'), ('now_premium', 'character varying'),
           ('creator', 'character varying'), ('modifier', 'character varying'),
           ('gmt_modified', 'bigint'), ('now_info', 'character varying')$$,
  'update_info has the SPEC columns, types and order');
SELECT columns_are('insure_stream', 'user_log', ARRAY[
  'log_time', 'device_id', 'account_id', 'bury_point_type', 'page_name', 'ingest_seq', 'ingested_at']);
SELECT results_eq(
  $$SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod) FROM pg_attribute
     WHERE attrelid = 'insure_stream.user_log'::regclass AND attnum > 0 AND NOT attisdropped AND attnum <= 5
     ORDER BY attnum$$,
  $$VALUES ('log_time', 'bigint'), ('device_id', 'character varying'), ('account_id', 'character varying'),
           ('bury_point_type', 'character varying'), ('page_name', 'character varying')$$,
  'user_log has the SPEC columns, types and order');
SELECT ok((SELECT bool_and(attidentity = 'a') AND count(*) = 3 FROM pg_attribute
            WHERE attrelid IN ('insure_stream.user_order'::regclass, 'insure_stream.update_info'::regclass,
                               'insure_stream.user_log'::regclass) AND attname = 'ingest_seq'),
  'ingest_seq is assigned by the server (GENERATED ALWAYS AS IDENTITY) in every event table');
SELECT col_has_default('insure_stream', 'user_order', 'ingested_at', 'ingested_at has a default');

-- dimension
SELECT columns_are('insure_stream', 'raw_info', ARRAY['id', 'raw_premium', 'raw_info']);
SELECT col_type_is('insure_stream', 'raw_info', 'id', 'bigint', 'raw_info.id is bigint');
SELECT col_type_is('insure_stream', 'raw_info', 'raw_premium', 'character varying', 'raw_info.raw_premium is character varying');
SELECT col_type_is('insure_stream', 'raw_info', 'raw_info', 'character varying', 'raw_info.raw_info is character varying');
SELECT col_is_pk('insure_stream', 'raw_info', 'id', 'raw_info is keyed by id');

-- results: three views over the state and one table, with the columns of the contract
SELECT has_view('insure_stream', 'last_order', 'last_order is a view over the per-day state');
SELECT has_view('insure_stream', 'hs_order', 'hs_order is a view over the states and the closed hours');
SELECT has_view('insure_stream', 'user_last_log', 'user_last_log is a view over the per-device state');
SELECT results_eq(
  $$SELECT c.relname::text COLLATE "default", a.attname::text COLLATE "default", format_type(a.atttypid, a.atttypmod)
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.oid IN ('insure_stream.last_order'::regclass, 'insure_stream.hs_order'::regclass,
                     'insure_stream.user_last_log'::regclass) AND a.attnum > 0
     ORDER BY c.relname, a.attnum$$,
  $$VALUES ('hs_order', 'biz_date', 'character varying'), ('hs_order', 'total_premium', 'double precision'),
           ('hs_order', 'policy_cnt', 'bigint'), ('hs_order', 'policy_holder_cnt', 'bigint'),
           ('last_order', 'id', 'bigint'), ('last_order', 'order_no', 'character varying'),
           ('last_order', 'customer_tel', 'character varying'), ('last_order', 'gmt_modified', 'bigint'),
           ('last_order', 'account_payble', 'double precision'),
           ('user_last_log', 'account_id', 'character varying'), ('user_last_log', 'device_id', 'character varying'),
           ('user_last_log', 'bury_point_type', 'character varying'), ('user_last_log', 'page_name', 'character varying')$$,
  'columns of the result views');
SELECT columns_are('insure_stream', 'premium_alert', ARRAY['id', 'raw_info', 'now_info', 'raw_premium', 'now_premium']);
SELECT col_is_pk('insure_stream', 'premium_alert', 'id', 'premium_alert is keyed by id');
SELECT col_type_is('insure_stream', 'premium_alert', 'raw_premium', 'character varying', 'premium_alert.raw_premium is character varying');
SELECT col_type_is('insure_stream', 'premium_alert', 'now_premium', 'character varying', 'premium_alert.now_premium is character varying');
SELECT col_is_pk('insure_stream', 'page_state', ARRAY['account_id', 'device_key'],
                 'page_state, under user_last_log, is keyed by account and device');

-- settings and bookkeeping
SELECT has_table('insure_stream', 'config', 'config table');
SELECT has_view('insure_stream', 'settings', 'settings view');
SELECT has_table('insure_stream', 'rejected_events', 'rejected_events table');
SELECT has_column('insure_stream', 'rejected_events', 'reason', 'rejected_events has a reason');
SELECT has_column('insure_stream', 'rejected_events', 'event', 'rejected_events has the row as JSON');
SELECT col_type_is('insure_stream', 'rejected_events', 'event', 'jsonb', 'rejected_events.event is jsonb');
SELECT set_eq($$SELECT name FROM insure_stream.settings$$,
  ARRAY['time_zone', 'drop_threshold', 'order_window', 'saved_events', 'max_future', 'on_bad_input', 'retention',
        'notify_payload', 'notify'],
  'every setting of the contract has a value');

-- functions with their exact signatures
SELECT has_function('insure_stream', 'configure', ARRAY['text', 'text']);
SELECT has_function('insure_stream', 'setting', ARRAY['text']);
SELECT has_function('insure_stream', 'verify', ARRAY[]::text[]);
SELECT has_function('insure_stream', 'rebuild', ARRAY[]::text[]);
SELECT has_function('insure_stream', 'status', ARRAY[]::text[]);
SELECT has_function('insure_stream', 'purge_events', ARRAY['interval']);
SELECT has_function('insure_stream', 'maintenance', ARRAY[]::text[]);
SELECT has_function('insure_stream', 'schedule_maintenance', ARRAY['text']);
SELECT has_function('insure_stream', 'unschedule_maintenance', ARRAY[]::text[]);
SELECT has_function('insure_stream', 'track_page', ARRAY['text', 'text', 'text', 'text', 'bigint']);
SELECT has_function('insure_stream', 'distribute', ARRAY['integer']);
SELECT has_function('insure_stream', 'drop_shards', ARRAY[]::text[]);
SELECT has_function('insure_stream', 'hs_order_hours', ARRAY['text', 'text']);
SELECT function_returns('insure_stream', 'hs_order_hours', ARRAY['text', 'text'], 'setof record');
SELECT function_returns('insure_stream', 'last_order_of', ARRAY['bigint[]'], 'setof insure_stream.last_order');
SELECT function_returns('insure_stream', 'user_last_log_of', ARRAY['text[]'], 'setof insure_stream.user_last_log');
SELECT has_function('insure_stream', 'from_unixtime', ARRAY['bigint']);
SELECT has_function('insure_stream', 'from_unixtime', ARRAY['bigint', 'text']);
SELECT has_function('insure_stream', 'unix_timestamp', ARRAY[]::text[]);
SELECT has_function('insure_stream', 'unix_timestamp', ARRAY['text']);
SELECT has_function('insure_stream', 'unix_timestamp', ARRAY['text', 'text']);
SELECT is_aggregate('insure_stream', 'last_value', ARRAY['anyelement']);
SELECT is_aggregate('insure_stream', 'last_value', ARRAY['anyelement', 'anycompatible']);
SELECT ok((SELECT aggcombinefn <> 0 AND aggserialfn <> 0 FROM pg_aggregate
            WHERE aggfnoid = 'insure_stream.last_value(anyelement, anycompatible)'::regprocedure),
          'last_value(value, ord) has combine and serialize functions');
SELECT ok((SELECT proparallel = 's' FROM pg_proc
            WHERE oid = 'insure_stream.last_value(anyelement, anycompatible)'::regprocedure),
          'last_value(value, ord) is parallel safe');
SELECT function_returns('insure_stream', 'from_unixtime', ARRAY['bigint', 'text'], 'text');
SELECT function_returns('insure_stream', 'unix_timestamp', ARRAY['text', 'text'], 'bigint');
SELECT has_type('insure_stream', 'double', 'the seed''s double type name');

-- admin functions are not for PUBLIC
SELECT function_privs_are('insure_stream', 'rebuild', ARRAY[]::text[], 'public', ARRAY[]::text[]);
SELECT function_privs_are('insure_stream', 'verify', ARRAY[]::text[], 'public', ARRAY[]::text[]);
SELECT function_privs_are('insure_stream', 'configure', ARRAY['text', 'text'], 'public', ARRAY[]::text[]);
SELECT function_privs_are('insure_stream', 'purge_events', ARRAY['interval'], 'public', ARRAY[]::text[]);
SELECT function_privs_are('insure_stream', 'distribute', ARRAY['integer'], 'public', ARRAY[]::text[]);
SELECT function_privs_are('insure_stream', 'drop_shards', ARRAY[]::text[], 'public', ARRAY[]::text[]);
SELECT function_privs_are('insure_stream', 'hs_order_hours', ARRAY['text', 'text'], 'public', ARRAY[]::text[]);
SELECT function_privs_are('insure_stream', 'last_order_of', ARRAY['bigint[]'], 'public', ARRAY[]::text[]);
SELECT function_privs_are('insure_stream', 'user_last_log_of', ARRAY['text[]'], 'public', ARRAY[]::text[]);
SELECT function_privs_are('insure_stream', f, ARRAY['regrole'], 'public', ARRAY[]::text[])
  FROM unnest(ARRAY['grant_ingest', 'revoke_ingest', 'grant_read', 'revoke_read']) AS f;
SELECT function_privs_are('insure_stream', 'config_check', ARRAY[]::text[], 'public', ARRAY[]::text[]);

-- the documented grants (README "Roles and privileges") as functions
SELECT has_function('insure_stream', f, ARRAY['regrole'])
  FROM unnest(ARRAY['grant_ingest', 'revoke_ingest', 'grant_read', 'revoke_read']) AS f;
SELECT ok(NOT bool_or(p.prosecdef) AND bool_and('search_path=pg_catalog, pg_temp' = ANY (p.proconfig)),
          'the grant functions run as the caller (the grantor) with a pinned search_path')
  FROM pg_proc p WHERE p.oid IN ('insure_stream.grant_ingest(regrole)'::regprocedure,
    'insure_stream.revoke_ingest(regrole)'::regprocedure, 'insure_stream.grant_read(regrole)'::regprocedure,
    'insure_stream.revoke_read(regrole)'::regprocedure);

-- PUBLIC writes nothing, reads only the settings; nobody gets more than the
-- owner (the installing role) and the roles it granted
SELECT is_empty(
  $$SELECT c.relname || ' ' || a.privilege_type FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.relnamespace = 'insure_stream'::regnamespace AND a.grantee = 0
       AND NOT (c.relname IN ('config', 'settings') AND a.privilege_type = 'SELECT')$$,
  'PUBLIC has no privilege on a relation but reading the settings');
SELECT is_empty(
  $$SELECT c.relname || '.' || att.attname FROM pg_class c JOIN pg_attribute att ON att.attrelid = c.oid,
           aclexplode(att.attacl) a
     WHERE c.relnamespace = 'insure_stream'::regnamespace AND a.grantee = 0$$,
  'PUBLIC has no column privilege');
SELECT is_empty(
  $$SELECT c.relname || ' ' || a.privilege_type FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.relnamespace = 'insure_stream'::regnamespace
       AND a.privilege_type IN ('TRUNCATE', 'TRIGGER', 'REFERENCES') AND a.grantee <> c.relowner$$,
  'nobody but the tables'' owner has TRUNCATE, TRIGGER or REFERENCES');

-- a config row written directly (a restore) is checked as configure() checks it
SELECT has_trigger('insure_stream', 'config', 'config_check', 'config has trigger config_check');
SELECT throws_ok($$INSERT INTO insure_stream.config (name, value) VALUES ('drop_threshold', '2')$$,
  '22023', NULL, 'a bad setting written directly is refused');
SELECT lives_ok($$INSERT INTO insure_stream.config (name, value) VALUES ('order_window', ' None ')$$,
  'a good setting written directly is taken');
SELECT is(insure_stream.setting('order_window'), 'none', 'in its canonical form');

-- triggers keep the results
SELECT has_trigger('insure_stream', 'user_order', 'user_order_apply', 'user_order has trigger user_order_apply');
SELECT has_trigger('insure_stream', 'update_info', 'update_info_apply', 'update_info has trigger update_info_apply');
SELECT has_trigger('insure_stream', 'user_log', 'user_log_apply', 'user_log has trigger user_log_apply');
SELECT has_trigger('insure_stream', 'raw_info', 'raw_info_check', 'raw_info has trigger raw_info_check');
SELECT is((SELECT t.tgenabled FROM pg_catalog.pg_trigger t
			 WHERE t.tgrelid = 'insure_stream.config'::regclass AND t.tgname = 'config_changed'),
		  'A'::"char", 'config_changed fires for rows a subscription applies too (settled settings trust it)');

-- the extension: trusted, not relocatable, its schema
SELECT ok((SELECT trusted AND NOT relocatable FROM pg_available_extension_versions
            WHERE name = 'insure_stream' AND installed), 'trusted and not relocatable');
SELECT is((SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'insure_stream'),
          'insure_stream', 'objects live in schema insure_stream');

-- user data is dumped by pg_dump
SELECT set_has(
  $$SELECT c.relname::text FROM pg_extension e, unnest(e.extconfig) AS x(oid)
     JOIN pg_class c ON c.oid = x.oid WHERE e.extname = 'insure_stream'$$,
  $$VALUES ('config'), ('raw_info'), ('user_order'), ('update_info'), ('user_log'), ('premium_alert'),
           ('order_state'), ('order_hour_closed'), ('order_last_closed'), ('page_state'),
           ('premium_applied'), ('rejected_events'), ('maintenance_state')$$,
  'every table of user data is registered with pg_extension_config_dump');
SELECT set_eq(
  $$SELECT c.relname::text FROM pg_extension e, unnest(e.extconfig) AS x(oid)
     JOIN pg_class c ON c.oid = x.oid WHERE e.extname = 'insure_stream' AND c.relkind = 'S'$$,
  $$VALUES ('user_order_ingest_seq_seq'), ('update_info_ingest_seq_seq'), ('user_log_ingest_seq_seq'),
           ('rejected_events_rejection_id_seq')$$,
  'the sequences of arrival order and of rejections are dumped (pg_restore sets them)');

-- the tables rewritten in place on every event leave half of each page
-- free, so that their updates stay HOT
SELECT set_eq(
  $$SELECT c.relname::text FROM pg_class c
     WHERE c.relnamespace = 'insure_stream'::regnamespace AND 'fillfactor=50' = ANY (c.reloptions)$$,
  $$VALUES ('raw_info'), ('premium_applied'), ('premium_alert')$$,
  'update-heavy tables have fillfactor 50');
SELECT is((SELECT c.reloptions FROM pg_class c WHERE c.oid = 'insure_stream.order_state'::regclass),
          ARRAY['fillfactor=80'], 'order_state leaves a fifth of each page for HOT updates');
SELECT is((SELECT c.reloptions FROM pg_class c WHERE c.oid = 'insure_stream.page_state'::regclass),
          ARRAY['fillfactor=80'], 'page_state leaves a fifth of each page for HOT updates');

-- every relation and function of the schema has a comment
SELECT is_empty(
  $$SELECT c.relname FROM pg_class c
     WHERE c.relnamespace = 'insure_stream'::regnamespace AND c.relkind IN ('r', 'v', 'S')
       AND c.relkind <> 'S' AND obj_description(c.oid, 'pg_class') IS NULL$$,
  'every table and view has a comment');
SELECT is_empty(
  $$SELECT p.oid::regprocedure FROM pg_proc p
     WHERE p.pronamespace = 'insure_stream'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL$$,
  'every function and aggregate has a comment');

SELECT * FROM finish();
ROLLBACK;
