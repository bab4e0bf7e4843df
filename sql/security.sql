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
TRUNCATE insure_stream.user_order, insure_stream.order_state, insure_stream.order_hour_part,
  insure_stream.order_hour_value, insure_stream.update_info, insure_stream.raw_info,
  insure_stream.premium_alert, insure_stream.premium_applied, insure_stream.user_log,
  insure_stream.page_state;
DELETE FROM insure_stream.config WHERE NOT is_default AND name <> 'time_zone';
