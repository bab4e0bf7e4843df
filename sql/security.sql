-- A hostile search_path cannot capture what the extension calls: look-alike
-- functions and operators in public, first in the path, are never used.
SET TimeZone = 'UTC';
CREATE TABLE public.captured (what text);
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql
  AS $$ INSERT INTO public.captured VALUES ('now'); SELECT timestamptz '2000-01-01' $$;
CREATE FUNCTION public.texteq_hostile(text, text) RETURNS boolean LANGUAGE sql
  AS $$ INSERT INTO public.captured VALUES ('='); SELECT true $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.texteq_hostile);
CREATE FUNCTION public.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE sql
  AS $$ INSERT INTO public.captured VALUES ('unnest'); SELECT NULL::anyelement WHERE false $$;
CREATE FUNCTION public.to_char(timestamp, text) RETURNS text LANGUAGE sql
  AS $$ INSERT INTO public.captured VALUES ('to_char'); SELECT 'captured'::text $$;
CREATE FUNCTION public.setting(text) RETURNS text LANGUAGE sql
  AS $$ INSERT INTO public.captured VALUES ('setting'); SELECT 'UTC'::text $$;

SET search_path = public, pg_catalog, insure_stream;
SELECT insure_stream.configure('order_window', 'none');
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
  VALUES (1, 'P1', 'T1', 1795572000000, 10), (2, 'P2', 'T1', 1795572000000, 5);
INSERT INTO insure_stream.raw_info VALUES (1, '100', 'p');
INSERT INTO insure_stream.update_info (id, now_premium, now_info) VALUES (1, '10', 'drop');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name) VALUES (1, 'd', 'a', 'home');
SELECT insure_stream.track_page('b', 'd', 'view', 'page', 2);
SELECT biz_date, total_premium, policy_cnt, policy_holder_cnt FROM insure_stream.hs_order ORDER BY 1;
SELECT id, raw_premium, now_premium FROM insure_stream.premium_alert ORDER BY id;
SELECT account_id, page_name FROM insure_stream.user_last_log ORDER BY 1;
SELECT count(*) AS differences FROM insure_stream.verify();
SELECT insure_stream.rebuild();
SELECT count(*) > 0 AS status_works FROM insure_stream.status();
SELECT insure_stream.from_unixtime(1795572000, 'yyyyMMddHH');
RESET search_path;
-- nothing hostile was called (the test's own queries above use no text =)
SELECT what, count(*) FROM public.captured GROUP BY what ORDER BY what;

-- A trigger function attached where it does not belong fails cleanly: as a
-- statement trigger raw_info_check() used to read a row that is not there
-- (signal 11, every backend restarted), and with a text id it printed an
-- address.
CREATE TEMP TABLE key_customers (id text, raw_premium varchar);
CREATE TRIGGER misplaced AFTER INSERT ON key_customers
  FOR EACH STATEMENT EXECUTE FUNCTION insure_stream.raw_info_check();
INSERT INTO key_customers VALUES ('1', 'not a premium');
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER misplaced ON key_customers;
CREATE TRIGGER misplaced BEFORE INSERT ON key_customers
  FOR EACH ROW EXECUTE FUNCTION insure_stream.raw_info_check();
INSERT INTO key_customers VALUES ('1', 'not a premium');
\echo :LAST_ERROR_SQLSTATE
DROP TABLE key_customers;
-- on its own table it checks as before
INSERT INTO insure_stream.raw_info VALUES (42, 'not a premium', 'p');
\echo :LAST_ERROR_SQLSTATE
-- what PUBLIC may execute: the SQL building blocks and setting() only
SELECT p.oid::regprocedure AS public_function
  FROM pg_proc p
 WHERE p.pronamespace = 'insure_stream'::regnamespace
   AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY 1::text;

-- leave the database as we found it
DROP OPERATOR public.= (text, text);
DROP FUNCTION public.texteq_hostile(text, text), public.now(), public.unnest(anyarray),
  public.to_char(timestamp, text), public.setting(text);
DROP TABLE public.captured;
TRUNCATE insure_stream.user_order, insure_stream.order_state, insure_stream.order_hour_closed,
  insure_stream.order_last_closed, insure_stream.update_info, insure_stream.raw_info,
  insure_stream.premium_alert, insure_stream.premium_applied, insure_stream.user_log,
  insure_stream.page_state;
DELETE FROM insure_stream.config WHERE NOT is_default AND name <> 'time_zone';

-- a relation named cron.job that is not pg_cron's is never read
-- (status() runs with the extension's rights)
CREATE SCHEMA cron;
CREATE TABLE public.captured (what text);
CREATE FUNCTION public.planted() RETURNS text LANGUAGE sql
  AS $$ INSERT INTO public.captured VALUES (current_user); SELECT 'planted'::text $$;
CREATE VIEW cron.job AS
  SELECT 1::bigint AS jobid, public.planted() AS jobname, '* * * * *'::text AS schedule,
         'insure_stream'::text AS command;
SELECT insure_stream.pg_cron_present();
SELECT count(*) AS pg_cron_rows FROM insure_stream.status() WHERE section = 'pg_cron';
SELECT insure_stream.schedule_maintenance();
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS planted_calls FROM public.captured;
DROP SCHEMA cron CASCADE;
DROP FUNCTION public.planted();
DROP TABLE public.captured;

-- the server assigns arrival order: an INSERT cannot name ingest_seq
INSERT INTO insure_stream.user_order (id, gmt_modified, ingest_seq) VALUES (1, 1795572000000, 9223372036854775807);
\echo :LAST_ERROR_SQLSTATE
SELECT attname, attidentity FROM pg_attribute
 WHERE attrelid IN ('insure_stream.user_order'::regclass, 'insure_stream.update_info'::regclass,
                    'insure_stream.user_log'::regclass)
   AND attname = 'ingest_seq' ORDER BY attrelid::regclass::text;

-- any finite amount is summed exactly and read back: past the double
-- range an hour's sum shows as an infinity of its sign, never an error
SELECT insure_stream.configure('order_window', 'none');
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (901, 'H1', 'T', 1795575600000, 1.7976931348623157e308),
  (902, 'H2', 'T', 1795575600000, 1.7976931348623157e308),
  (903, 'H3', 'T', 1795579200000, -1.7976931348623157e308),
  (904, 'H4', 'T', 1795579200000, -1e308),
  (905, 'H5', 'T', 1795582800000, 1e308),
  (906, 'H6', 'T', 1795582800000, -1e308),
  (907, 'H7', 'T', 1795582800000, 5e-324);
SELECT biz_date, total_premium FROM insure_stream.hs_order ORDER BY biz_date;
SELECT id, account_payble FROM insure_stream.last_order WHERE id > 900 ORDER BY id;
SELECT count(*) AS differences FROM insure_stream.verify();
-- the boundary: 2^1024 - 2^970 and above round to an infinity
SELECT v < 0 AS negative, insure_stream.exact_sum_to_double(v) FROM (VALUES
  (0::numeric), (0.1), (179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858368::numeric), (179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791::numeric), (179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792::numeric),
  (-179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792::numeric), (-1e400), (1e400)) AS t(v);
TRUNCATE insure_stream.user_order, insure_stream.order_state, insure_stream.order_hour_closed,
  insure_stream.order_last_closed;
DELETE FROM insure_stream.config WHERE NOT is_default AND name <> 'time_zone';
