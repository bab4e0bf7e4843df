-- Bad input matrix (issue 8, item 3): every case runs in both on_bad_input
-- modes.  error: a class-22 ERROR naming table, column, value and row, and
-- nothing changes; quarantine: the event row stays in its event table, a
-- rejected_events row and a WARNING, the rest of the statement is processed.
-- Times are fixed epoch milliseconds in the past (order_window = none);
-- future times are computed from now() and never printed.
\set VERBOSITY default
SELECT setval('insure_stream.user_order_ingest_seq_seq', 1, false);
SELECT setval('insure_stream.update_info_ingest_seq_seq', 1, false);
SELECT setval('insure_stream.user_log_ingest_seq_seq', 1, false);
SELECT setval('insure_stream.rejected_events_rejection_id_seq', 1, false);
SELECT insure_stream.configure('order_window', 'none');

-- every row of every event table, dimension, state and result table, as text
CREATE FUNCTION pg_temp.snapshot() RETURNS TABLE (rel text, r text) LANGUAGE sql AS $$
  SELECT 'user_order', t::text FROM insure_stream.user_order t
  UNION ALL SELECT 'update_info', t::text FROM insure_stream.update_info t
  UNION ALL SELECT 'user_log', t::text FROM insure_stream.user_log t
  UNION ALL SELECT 'raw_info', t::text FROM insure_stream.raw_info t
  UNION ALL SELECT 'order_state', t::text FROM insure_stream.order_state t
  UNION ALL SELECT 'hs_order', t::text FROM insure_stream.hs_order t
  UNION ALL SELECT 'premium_alert', t::text FROM insure_stream.premium_alert t
  UNION ALL SELECT 'premium_applied', t::text FROM insure_stream.premium_applied t
  UNION ALL SELECT 'page_state', t::text FROM insure_stream.page_state t
  UNION ALL SELECT 'user_last_log', t::text FROM insure_stream.user_last_log t
  UNION ALL SELECT 'rejected_events', (t.table_name, t.ingest_seq, t.column_name, t.bad_value,
                                       t.reason, t.sqlstate, t.event)::text
              FROM insure_stream.rejected_events t
$$;
CREATE TEMP TABLE marked (rel text, r text);
CREATE FUNCTION pg_temp.mark() RETURNS void LANGUAGE sql AS $$
  DELETE FROM marked; INSERT INTO marked SELECT * FROM pg_temp.snapshot();
$$;
-- what changed since mark(): rows added (+) and removed (-) per relation
CREATE FUNCTION pg_temp.changes() RETURNS text LANGUAGE sql AS $$
  WITH cur AS (SELECT * FROM pg_temp.snapshot()),
  plus AS (SELECT rel, count(*) AS n FROM (SELECT * FROM cur EXCEPT ALL SELECT * FROM marked) x GROUP BY rel),
  minus AS (SELECT rel, count(*) AS n FROM (SELECT * FROM marked EXCEPT ALL SELECT * FROM cur) x GROUP BY rel)
  SELECT coalesce(string_agg(concat_ws(' ', rel, '+' || p.n, '-' || m.n), ', ' ORDER BY rel), 'nothing')
    FROM plus p FULL JOIN minus m USING (rel)
$$;
CREATE FUNCTION pg_temp.short(t text) RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN length(t) > 170 THEN left(t, 60) || '...[' || length(t) || ' chars]...' || right(t, 60)
              ELSE t END
$$;
CREATE FUNCTION pg_temp.eval(expr text) RETURNS text LANGUAGE plpgsql STRICT AS $$
DECLARE r text;
BEGIN
  EXECUTE 'SELECT (' || expr || ')::text' INTO r;
  RETURN r;
END
$$;
-- runs one statement: its SQLSTATE ('ok' when it succeeds), which of table,
-- column, value and row the error names ('-' for each one it does not name),
-- what changed, and the error's message and detail (or COPY context);
-- mask_as replaces a now()-dependent value in what is shown
CREATE FUNCTION pg_temp.attempt(stmt text, tbl text, col text, val text, rowref text, mask_as text,
    OUT state text, OUT names text, OUT changed text, OUT message text, OUT detail text)
LANGUAGE plpgsql AS $$
DECLARE
  m text; d text; c text; said text;
BEGIN
  PERFORM pg_temp.mark();
  BEGIN
    EXECUTE stmt;
    state := 'ok';
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, m = MESSAGE_TEXT,
                            d = PG_EXCEPTION_DETAIL, c = PG_EXCEPTION_CONTEXT;
    c := split_part(c, E'\n', 1);
    IF c LIKE 'SQL statement%' OR c LIKE 'PL/pgSQL%' THEN c := ''; END IF;
    said := concat_ws(E'\n', m, d, c);
    names := concat_ws(' ',
      CASE WHEN strpos(said, format('table "%s"', tbl)) > 0 OR strpos(said, format('COPY %s,', tbl)) > 0
             OR strpos(said, format('function "%s"', tbl)) > 0 OR strpos(said, format('relation "%s"', tbl)) > 0
           THEN 'table' ELSE '-' END,
      CASE WHEN strpos(said, format('column "%s"', col)) > 0 OR strpos(said, format('column %s:', col)) > 0
             OR strpos(said, format('argument "%s"', col)) > 0
           THEN 'column' ELSE '-' END,
      CASE WHEN strpos(said, format('"%s"', val)) > 0 THEN 'value' ELSE '-' END,
      CASE WHEN said ~ (rowref || '\M') THEN 'row' ELSE '-' END);
    IF val LIKE '0x%' AND strpos(said, val) > 0 THEN   -- bytes of invalid UTF-8, unquoted
      names := regexp_replace(names, '^(\S+ \S+) -', '\1 value');
    END IF;
    IF mask_as IS NOT NULL THEN
      m := replace(m, val, mask_as); d := replace(d, val, mask_as);
    END IF;
    message := pg_temp.short(m);
    detail := pg_temp.short(nullif(concat_ws(' | ', nullif(d, ''), nullif(c, '')), ''));
  END;
  changed := pg_temp.changes();
END
$$;
-- the cases: target column, the input as shown, the value as the error must
-- quote it, the statement, and how the error must name the row
-- (val_sql: an expression computing a now()-dependent value instead)
CREATE TEMP TABLE cases (n int PRIMARY KEY, target text, shown text, val text, stmt text, rowref text,
                         val_sql text);
CREATE FUNCTION pg_temp.run(first int, last int)
  RETURNS TABLE (n int, target text, shown text, state text, names text, changed text,
                 message text, detail text)
  LANGUAGE sql AS $$
  SELECT c.n, c.target, c.shown, a.*
    FROM (SELECT * FROM cases WHERE cases.n BETWEEN first AND last ORDER BY cases.n OFFSET 0) c,
         LATERAL pg_temp.attempt(c.stmt, split_part(c.target, '.', 1), split_part(c.target, '.', 2),
                                 coalesce(pg_temp.eval(c.val_sql), c.val), c.rowref,
                                 CASE WHEN c.val_sql IS NOT NULL THEN c.shown END) a
$$;
-- one line per quarantined event
CREATE TEMP VIEW quarantined AS
  SELECT table_name, ingest_seq, column_name, pg_temp.short(bad_value) AS bad_value, reason, sqlstate,
         pg_temp.short(coalesce(event->>'now_info', event->>'order_no', event->>'page_name')) AS tag
    FROM insure_stream.rejected_events ORDER BY table_name, ingest_seq;

-- ======================================================================
-- 1. Premiums (update_info.now_premium): bad texts, and the accepted forms.
-- Key customer n has raw_premium '100'; case n sends an event for it.
-- ======================================================================
INSERT INTO insure_stream.raw_info SELECT n, '100', 'policy ' || n FROM generate_series(1, 30) n;
INSERT INTO cases (n, target, shown, val, rowref, stmt)
SELECT n, 'update_info.now_premium', shown, coalesce(val, shown), 'id ' || n,
       format('INSERT INTO insure_stream.update_info (id, event, now_premium, now_info, gmt_modified) '
              'VALUES (%s, ''saved'', %s, ''case %s'', 1790000000000)', n, coalesce(expr, quote_literal(shown)), n)
  FROM (VALUES
    (1, 'abc', NULL, NULL),
    (2, '', NULL, NULL),
    (3, '   ', NULL, NULL),
    (4, 'NaN', NULL, NULL),
    (5, ' nan ', NULL, NULL),
    (6, 'Infinity', NULL, NULL),
    (7, '-inf', NULL, NULL),
    (8, '1e999999', NULL, NULL),
    (9, '1e1001', NULL, NULL),
    (10, '1,000', NULL, NULL),
    (11, '0x1A', NULL, NULL),
    (12, '12.5 abc', NULL, NULL),
    (13, '1e', NULL, NULL),
    (14, 'repeat(''9'', 100000)', repeat('9', 100000), 'repeat(''9'', 100000)'),
    (15, ' 12.5 ', NULL, NULL),
    (16, '+3', NULL, NULL),
    (17, '1e2', NULL, NULL),
    (18, '.5', NULL, NULL),
    (19, '5.', NULL, NULL),
    (20, '-0', NULL, NULL),
    (21, '99.99', NULL, NULL)
  ) AS v(n, shown, val, expr);

SELECT insure_stream.configure('on_bad_input', 'error');
SELECT * FROM pg_temp.run(1, 13);
-- the 100000-digit premium: the message quotes it whole, so only its length is shown
SELECT * FROM pg_temp.run(14, 14);
SELECT * FROM pg_temp.run(15, 21);
-- accepted forms: stored verbatim, compared as exact decimals
SELECT id, raw_premium, raw_info FROM insure_stream.raw_info WHERE id BETWEEN 15 AND 21 ORDER BY id;
SELECT id, raw_premium, now_premium FROM insure_stream.premium_alert ORDER BY id;
SELECT * FROM quarantined;
SELECT * FROM insure_stream.verify();

-- quarantine: back to '100', the same events again
UPDATE insure_stream.raw_info SET raw_premium = '100' WHERE id BETWEEN 1 AND 30;
SELECT insure_stream.configure('on_bad_input', 'quarantine');
SELECT * FROM pg_temp.run(1, 13);
SET client_min_messages = error;   -- its WARNING quotes the 100000 digits
SELECT * FROM pg_temp.run(14, 14);
RESET client_min_messages;
SELECT * FROM pg_temp.run(15, 21);
SELECT id, raw_premium, raw_info FROM insure_stream.raw_info WHERE id BETWEEN 1 AND 21 ORDER BY id;
SELECT id, raw_premium, now_premium FROM insure_stream.premium_alert ORDER BY id;
SELECT * FROM quarantined;
SELECT length(bad_value) AS bad_value_length, length(event->>'now_premium') AS event_premium_length
  FROM insure_stream.rejected_events WHERE ingest_seq = 35;
SELECT * FROM insure_stream.event_classes() WHERE table_name = 'update_info';
SELECT * FROM insure_stream.verify();

-- ======================================================================
-- 2. The dimension (raw_info): a raw_premium that is not a decimal is
-- refused when the row is written, by anyone, in both modes (there is no
-- event row to quarantine).  Accepted writes carry the mode in raw_info.
-- ======================================================================
INSERT INTO cases (n, target, shown, val, rowref, stmt)
SELECT n, 'raw_info.' || col, shown, coalesce(val, shown), 'id ' || n,
       CASE WHEN upd THEN format('UPDATE insure_stream.raw_info SET %I = %s WHERE id = 1', col,
                                 coalesce(expr, quote_literal(shown)))
            ELSE format('INSERT INTO insure_stream.raw_info (id, raw_premium, raw_info) VALUES (%s, %s, %s) '
                        'ON CONFLICT (id) DO UPDATE SET raw_premium = excluded.raw_premium, raw_info = excluded.raw_info',
                        n, CASE WHEN col = 'raw_premium' THEN quote_literal(shown) ELSE '''7''' END,
                        CASE WHEN col = 'raw_info' THEN expr
                             ELSE '''dim '' || insure_stream.setting(''on_bad_input'')' END) END
  FROM (VALUES
    (31, 'raw_premium', 'abc', NULL, NULL, false),
    (32, 'raw_premium', '', NULL, NULL, false),
    (33, 'raw_premium', 'NaN', NULL, NULL, false),
    (34, 'raw_premium', '-Infinity', NULL, NULL, false),
    (35, 'raw_premium', '1,000', NULL, NULL, true),
    (36, 'raw_premium', 'Infinity', NULL, NULL, true),
    (37, 'raw_premium', ' 12.5 ', NULL, NULL, false),
    (38, 'raw_info', 'repeat(''r'', 100000)', repeat('r', 100000),
         'repeat(''r'', 100000) || insure_stream.setting(''on_bad_input'')', false)
  ) AS v(n, col, shown, val, expr, upd);
UPDATE cases SET rowref = 'id 1' WHERE n IN (35, 36);

SELECT insure_stream.configure('on_bad_input', 'error');
SELECT * FROM pg_temp.run(31, 38);
SELECT id, raw_premium, left(raw_info, 3) AS raw_info, length(raw_info) AS raw_info_length
  FROM insure_stream.raw_info WHERE id = 1 OR id > 30 ORDER BY id;
SELECT insure_stream.configure('on_bad_input', 'quarantine');
SELECT * FROM pg_temp.run(31, 38);
SELECT id, raw_premium, left(raw_info, 3) AS raw_info, length(raw_info) AS raw_info_length
  FROM insure_stream.raw_info WHERE id = 1 OR id > 30 ORDER BY id;
SELECT count(*) AS quarantined_dimension_rows FROM insure_stream.rejected_events WHERE table_name = 'raw_info';
SELECT * FROM insure_stream.verify();

-- ======================================================================
-- 3. Amounts (user_order.order_price, account_payble: double precision):
-- NaN and infinities are bad input of the extension; text that is no
-- double at all is refused by PostgreSQL's float8 input before any row
-- exists (so there is nothing to quarantine).  Negative and -0 are valid.
-- ======================================================================
INSERT INTO cases (n, target, shown, val, rowref, stmt)
SELECT n, 'user_order.' || col, shown, shown, 'id ' || (100 + n),
       format('INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, order_price, account_payble) '
              'VALUES (%s, ''PO-%s-'' || insure_stream.setting(''on_bad_input''), ''tel-%s'', 1790000000000, %L, %L)',
              100 + n, n, n, CASE WHEN col = 'order_price' THEN shown ELSE '1' END,
              CASE WHEN col = 'account_payble' THEN shown ELSE '1' END)
  FROM (VALUES
    (41, 'account_payble', 'NaN'),
    (42, 'account_payble', 'Infinity'),
    (43, 'account_payble', '-Infinity'),
    (44, 'order_price', 'NaN'),
    (45, 'order_price', '-inf'),   -- named as stored: -Infinity
    (46, 'account_payble', '1e999999'),
    (47, 'account_payble', '1,000'),
    (48, 'order_price', 'abc'),
    (49, 'account_payble', '-12.5'),
    (50, 'account_payble', '-0'),
    (51, 'account_payble', ' 1e2 ')
  ) AS v(n, col, shown);
UPDATE cases SET val = '-Infinity' WHERE n = 45;

SELECT insure_stream.configure('on_bad_input', 'error');
SELECT * FROM pg_temp.run(41, 51);
SELECT id, order_no, account_payble::text FROM insure_stream.last_order WHERE id > 140 ORDER BY id;
SELECT insure_stream.configure('on_bad_input', 'quarantine');
SELECT * FROM pg_temp.run(41, 51);
SELECT id, order_no, account_payble::text FROM insure_stream.last_order WHERE id > 140 ORDER BY id;
SELECT biz_date, total_premium, policy_cnt, policy_holder_cnt FROM insure_stream.hs_order ORDER BY biz_date;
SELECT * FROM quarantined WHERE table_name = 'user_order';
SELECT * FROM insure_stream.event_classes() WHERE table_name = 'user_order';
SELECT * FROM insure_stream.verify();

-- ======================================================================
-- 4. Event times (user_order.gmt_modified, update_info.gmt_modified,
-- user_log.log_time): beyond max_future (1 day) is bad input, 22008.
-- Cases 61-65 compute the time from now(): it is shown as its formula, and
-- their WARNINGs (which quote it) are not shown.  Other bigint times
-- (pay_time, gmt_created) are not event times.
-- ======================================================================
INSERT INTO cases (n, target, shown, val, val_sql, rowref, stmt)
SELECT n, target, shown, CASE WHEN shown NOT LIKE 'now()%' THEN shown END,
       CASE WHEN shown LIKE 'now()%' THEN t END, rowref,
       format(stmt, coalesce(t, shown))
  FROM (VALUES
    (61, 'user_order.gmt_modified', 'now() + 2 days', 'id 161',
         'INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) VALUES (161, ''future'', %s)'),
    (62, 'update_info.gmt_modified', 'now() + 2 days', 'id 21',
         'INSERT INTO insure_stream.update_info (id, event, now_premium, now_info, gmt_modified) VALUES (21, ''saved'', ''1'', ''future'', %s)'),
    (63, 'user_log.log_time', 'now() + 2 days', 'account_id acc-63',
         'INSERT INTO insure_stream.user_log VALUES (%s, ''dev'', ''acc-63'', ''view'', ''future'')'),
    (64, 'track_page.log_time', 'now() + 2 days', 'track_page',
         'SELECT insure_stream.track_page(''acc-64'', ''dev'', ''view'', ''future'', %s)'),
    (65, 'user_order.gmt_modified', 'now() + 20 hours', 'id 165',
         'INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) VALUES (165, ''tomorrow'', %s)'),
    (66, 'user_order.gmt_modified', '9223372036854775807', 'id 166',
         'INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) VALUES (166, ''max'', %s)'),
    (67, 'update_info.gmt_modified', '9223372036854775807', 'id 21',
         'INSERT INTO insure_stream.update_info (id, event, now_premium, now_info, gmt_modified) VALUES (21, ''saved'', ''1'', ''max'', %s)'),
    (68, 'user_log.log_time', '9223372036854775807', 'account_id acc-68',
         'INSERT INTO insure_stream.user_log VALUES (%s, ''dev'', ''acc-68'', ''view'', ''max'')'),
    (69, 'user_order.pay_time', '9223372036854775807', 'id 169',
         'INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, pay_time, gmt_created) VALUES (169, ''pay'', 1790000000000, %1$s, %1$s)'),
    (70, 'update_info.gmt_modified', '-9223372036854775808', 'id 21',
         'INSERT INTO insure_stream.update_info (id, event, now_premium, now_info, gmt_modified) VALUES (21, ''saved'', ''100'', ''min'', %s)'),
    (71, 'user_log.log_time', '-9223372036854775808', 'account_id acc-71',
         'INSERT INTO insure_stream.user_log VALUES (%s, ''dev'', ''acc-71'', ''view'', ''min'')'),
    (72, 'user_log.log_time', 'now() + 2 hours', 'account_id acc-72',
         'INSERT INTO insure_stream.user_log VALUES ((extract(epoch FROM now() + interval ''30 minutes'') * 1000)::bigint, ''dev'', ''acc-72'', ''view'', ''soon''), (%s, ''dev'', ''acc-72'', ''view'', ''later'')')
  ) AS v(n, target, shown, rowref, stmt)
  LEFT JOIN LATERAL (SELECT format('(extract(epoch FROM %s) * 1000)::bigint',
                                   replace(shown, 'now() + ', 'now() + interval ''') || '''') AS t
                      WHERE shown LIKE 'now()%') x ON true;

-- one transaction, so that now() is the same in both modes
BEGIN;
SELECT insure_stream.configure('on_bad_input', 'error');
SELECT * FROM pg_temp.run(61, 71);
SELECT insure_stream.configure('on_bad_input', 'quarantine');
SET client_min_messages = error;   -- their WARNINGs quote now()-dependent times
SELECT * FROM pg_temp.run(61, 65);
RESET client_min_messages;
SELECT * FROM pg_temp.run(66, 71);
-- a shorter max_future: two hours ahead is too far, thirty minutes is not
SELECT insure_stream.configure('max_future', '1 hour');
SELECT insure_stream.configure('on_bad_input', 'error');
SELECT * FROM pg_temp.run(72, 72);
SELECT insure_stream.configure('on_bad_input', 'quarantine');
SET client_min_messages = error;
SELECT * FROM pg_temp.run(72, 72);
RESET client_min_messages;
SELECT insure_stream.configure('max_future', '1 day');
COMMIT;
SELECT account_id, device_id, bury_point_type, page_name FROM insure_stream.user_last_log ORDER BY account_id;
SELECT id, order_no FROM insure_stream.last_order WHERE id > 160 ORDER BY id;
SELECT id, raw_premium, raw_info FROM insure_stream.raw_info WHERE id = 21;
SELECT table_name, ingest_seq, column_name, reason, sqlstate, tag,
       CASE WHEN bad_value LIKE '92233%' THEN bad_value
            WHEN bad_value ~ '^\d{13}$' THEN 'now() + ...' END AS bad_value
  FROM quarantined WHERE sqlstate = '22008';
SELECT * FROM insure_stream.verify();

-- ======================================================================
-- 5. Huge strings (100000 characters) in text columns: accepted, stored
-- and carried into the results whole, never truncated; except in the four
-- columns that are part of a result's key (order_no, customer_tel,
-- account_id, device_id), where more than 1024 bytes are bad input, 22001
-- (see group 11).  Each mode writes its own value (the mode's name is
-- appended).
-- ======================================================================
INSERT INTO cases (n, target, shown, rowref, stmt)
SELECT n, target, format('repeat(%L, 100000)', ch), '',
       format(stmt, format('repeat(%L, 100000) || insure_stream.setting(''on_bad_input'')', ch))
  FROM (VALUES
    (81, 'user_order.order_no', 'o',
         'INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified) VALUES (181, %s, ''tel-181'', 1790000000000)'),
    (82, 'user_order.customer_tel', 't',
         'INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified) VALUES (182, ''PO-182'', %s, 1790000000000)'),
    (83, 'user_order.certificate_no', 'c',
         'INSERT INTO insure_stream.user_order (id, certificate_no, gmt_modified) VALUES (183, %s, 1790000000000)'),
    (84, 'update_info.now_info', 'i',
         'INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (22, ''saved'', ''1'', %s)'),
    (85, 'update_info.channel', 'h',
         'INSERT INTO insure_stream.update_info (id, channel, event, now_premium, now_info) VALUES (23, %s, ''saved'', ''99'', ''channel'')'),
    (86, 'update_info.event', 'e',
         'INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (24, %s, ''98'', ''event'')'),
    (87, 'user_log.account_id', 'a',
         'INSERT INTO insure_stream.user_log VALUES (1790000000000, ''dev-87'', %s, ''view'', ''home'')'),
    (88, 'user_log.device_id', 'd',
         'INSERT INTO insure_stream.user_log VALUES (1790000000000, %s, ''acc-88'', ''view'', ''home'')'),
    (89, 'user_log.page_name', 'p',
         'INSERT INTO insure_stream.user_log VALUES (1790000000000, ''dev-89'', ''acc-89'', ''view'', %s)')
  ) AS v(n, target, ch, stmt);
-- the message quotes the start of a value too long for a key
UPDATE cases SET val = repeat(left(split_part(shown, '''', 2), 1), 32) || '...' WHERE n IN (81, 82, 87, 88);
UPDATE cases SET rowref = CASE n WHEN 81 THEN 'id 181' WHEN 82 THEN 'id 182'
                                 WHEN 87 THEN 'account_id ' || repeat('a', 64) ELSE 'account_id acc-88' END
 WHERE n IN (81, 82, 87, 88);

SELECT insure_stream.configure('on_bad_input', 'error');
SELECT * FROM pg_temp.run(81, 89);
SELECT insure_stream.configure('on_bad_input', 'quarantine');
SELECT * FROM pg_temp.run(81, 89);
-- whole in the event tables (quarantined rows too) and in the results
SELECT id, length(order_no) AS order_no_length, length(customer_tel) AS customer_tel_length,
       length(certificate_no) AS certificate_no_length
  FROM insure_stream.user_order WHERE id BETWEEN 181 AND 183 ORDER BY ingest_seq;
SELECT id, order_no, customer_tel FROM insure_stream.last_order WHERE id BETWEEN 181 AND 183 ORDER BY id;
SELECT biz_date, total_premium, policy_cnt, policy_holder_cnt FROM insure_stream.hs_order
 WHERE biz_date = '2026092122';
SELECT id, raw_premium, left(raw_info, 3) AS raw_info, length(raw_info) AS raw_info_length
  FROM insure_stream.raw_info WHERE id BETWEEN 22 AND 24 ORDER BY id;
SELECT id, raw_premium, now_premium, length(now_info) AS now_info_length
  FROM insure_stream.premium_alert WHERE id = 22;
SELECT length(channel) AS channel_length, length(event) AS event_length
  FROM insure_stream.update_info WHERE id IN (23, 24) ORDER BY ingest_seq;
SELECT left(account_id, 6) AS account_id, length(account_id) AS account_id_length,
       left(device_id, 6) AS device_id, length(device_id) AS device_id_length
  FROM insure_stream.user_log WHERE length(account_id) > 1024 OR length(device_id) > 1024
 ORDER BY ingest_seq;
SELECT account_id, device_id, left(page_name, 6) AS page_name, length(page_name) AS page_name_length
  FROM insure_stream.user_last_log WHERE account_id LIKE 'aaa%' OR account_id IN ('acc-88', 'acc-89')
 ORDER BY account_id;
SELECT * FROM quarantined WHERE sqlstate = '22001';
SELECT * FROM insure_stream.verify();

-- ======================================================================
-- 6. COPY: wrong column counts, text that is no number, invalid UTF-8.
-- COPY itself refuses these (class 22, CONTEXT names the table and line)
-- before any row reaches a trigger, in both modes: nothing changes.
-- ======================================================================
-- psql sets no SQLSTATE after a failed COPY FROM STDIN: the same four
-- files are read again below with COPY FROM PROGRAM, which run() reports.
SELECT insure_stream.configure('on_bad_input', 'error');
SELECT pg_temp.mark();
-- 91: user_order, a line with a column missing
COPY insure_stream.user_order (id, order_no, gmt_modified, account_payble) FROM STDIN;
191	PO-191	1790000000000	1
192	PO-192	1790000000000
\.
-- 92: user_log, a line with an extra column
COPY insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) FROM STDIN;
1790000000000	dev	acc-92	view	home	extra
\.
-- 93: update_info, the third line has a column missing
COPY insure_stream.update_info (id, event, now_premium, now_info) FROM STDIN;
25	saved	90	copy-1
25	saved	80	copy-2
25	saved	70
\.
-- 94: raw_info, an extra column
COPY insure_stream.raw_info (id, raw_premium, raw_info) FROM STDIN;
194	100	dim	extra
\.
SELECT pg_temp.changes();
SELECT insure_stream.configure('on_bad_input', 'quarantine');
COPY insure_stream.user_order (id, order_no, gmt_modified, account_payble) FROM STDIN;
191	PO-191	1790000000000	1
192	PO-192	1790000000000
\.
COPY insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) FROM STDIN;
1790000000000	dev	acc-92	view	home	extra
\.
COPY insure_stream.update_info (id, event, now_premium, now_info) FROM STDIN;
25	saved	90	copy-1
25	saved	80	copy-2
25	saved	70
\.
COPY insure_stream.raw_info (id, raw_premium, raw_info) FROM STDIN;
194	100	dim	extra
\.
SELECT pg_temp.changes();

-- 91-101 (COPY FROM PROGRAM: printf writes the bytes, as a file would hold them)
INSERT INTO cases (n, target, shown, val, rowref, stmt)
SELECT n, target, shown, val, rowref,
       format('COPY insure_stream.%s FROM PROGRAM %L WITH (ENCODING ''UTF8'')',
              split_part(target, '.', 1) || cols, 'printf ''' || data || '''')
  FROM (VALUES
    (91, 'user_order.account_payble', 'line 2 misses a column', '', 'line 2', ' (id, order_no, gmt_modified, account_payble)',
         '191\tPO-191\t1790000000000\t1\n192\tPO-192\t1790000000000\n'),
    (92, 'user_log.page_name', 'line 1 has an extra column', '', 'line 1', ' (log_time, device_id, account_id, bury_point_type, page_name)',
         '1790000000000\tdev\tacc-92\tview\thome\textra\n'),
    (93, 'update_info.now_info', 'line 3 misses a column', '', 'line 3', ' (id, event, now_premium, now_info)',
         '25\tsaved\t90\tcopy-1\n25\tsaved\t80\tcopy-2\n25\tsaved\t70\n'),
    (94, 'raw_info.raw_info', 'line 1 has an extra column', '', 'line 1', ' (id, raw_premium, raw_info)',
         '194\t100\tdim\textra\n'),
    (95, 'user_order.id', 'abc', 'abc', 'line 1', ' (id, order_no, gmt_modified)',
         'abc\tPO-195\t1790000000000\n'),
    (96, 'user_log.log_time', '1.5e12', '1.5e12', 'line 2', ' (log_time, device_id, account_id)',
         '1790000000000\tdev\tacc-96\n1.5e12\tdev\tacc-96\n'),
    (97, 'update_info.id', ' 25 x', ' 25 x', 'line 1', ' (id, event, now_premium)',
         ' 25 x\tsaved\t1\n'),
    (98, 'user_log.account_id', 'acc\377 (0xff)', '0xff', 'line 1', ' (log_time, device_id, account_id)',
         '1790000000000\tdev\tacc\377\n'),
    (99, 'update_info.now_premium', '1\300\2570 (0xc0 0xaf)', '0xc0 0xaf', 'line 2', ' (id, event, now_premium)',
         '25\tsaved\t95\n25\tsaved\t1\300\2570\n'),
    (100, 'user_order.order_no', 'PO\342\202 (0xe2 0x82 0x0a)', '0xe2 0x82 0x0a', 'line 1', ' (id, order_no, gmt_modified)',
         '200\tPO\342\202\n'),
    (101, 'raw_info.raw_info', '\355\240\200 (0xed 0xa0 0x80)', '0xed 0xa0 0x80', 'line 1', ' (id, raw_premium, raw_info)',
         '201\t100\t\355\240\200\n')
  ) AS v(n, target, shown, val, rowref, cols, data);
SELECT insure_stream.configure('on_bad_input', 'error');
SELECT * FROM pg_temp.run(91, 101);
SELECT insure_stream.configure('on_bad_input', 'quarantine');
SELECT * FROM pg_temp.run(91, 101);
SELECT * FROM insure_stream.verify();

-- ======================================================================
-- 7. NULL in every column of every event table (and of raw_info): never
-- bad input.  One statement per table: row k has column k null, the last
-- row is null everywhere.  Rows without their key or event time are kept
-- and filtered; other nulls are skipped (last non-null value wins).
-- Each mode writes its own users (error: 3xx, quarantine: 4xx).
-- ======================================================================
INSERT INTO insure_stream.raw_info SELECT n, '100', 'null case ' || n FROM generate_series(301, 309) n;
INSERT INTO insure_stream.raw_info SELECT n, '100', 'null case ' || n FROM generate_series(401, 409) n;
INSERT INTO cases (n, target, shown, rowref, stmt) VALUES
  (111, 'user_order.*', 'row k: column k null (k = 1..11), row 12: all null', '',
   $$INSERT INTO insure_stream.user_order
     SELECT CASE WHEN k NOT IN (1, 12) THEN k + b END, CASE WHEN k NOT IN (2, 12) THEN 'PO-' || (k + b) END,
            CASE WHEN k NOT IN (3, 12) THEN 1 END, CASE WHEN k NOT IN (4, 12) THEN 1790000000000 END,
            CASE WHEN k NOT IN (5, 12) THEN 9.5 END, CASE WHEN k NOT IN (6, 12) THEN 'name' END,
            CASE WHEN k NOT IN (7, 12) THEN 'tel-' || (k + b) END, CASE WHEN k NOT IN (8, 12) THEN 'cert' END,
            CASE WHEN k NOT IN (9, 12) THEN 1790000000000 END, CASE WHEN k NOT IN (10, 12) THEN 1790000000000 + k END,
            CASE WHEN k NOT IN (11, 12) THEN k END
       FROM generate_series(1, 12) k,
            (SELECT CASE insure_stream.setting('on_bad_input') WHEN 'error' THEN 300 ELSE 400 END AS b) x
      ORDER BY k$$),
  (112, 'update_info.*', 'row k: column k null (k = 1..9), row 10: all null', '',
   $$INSERT INTO insure_stream.update_info
     SELECT CASE WHEN k NOT IN (1, 10) THEN k + b END, CASE WHEN k NOT IN (2, 10) THEN 'app' END,
            CASE WHEN k NOT IN (3, 10) THEN 'open' END, CASE WHEN k NOT IN (4, 10) THEN 'saved' END,
            CASE WHEN k NOT IN (5, 10) THEN '50' END, CASE WHEN k NOT IN (6, 10) THEN 'creator' END,
            CASE WHEN k NOT IN (7, 10) THEN 'modifier' END, CASE WHEN k NOT IN (8, 10) THEN 1790000000000 END,
            CASE WHEN k NOT IN (9, 10) THEN 'info ' || (k + b) END
       FROM generate_series(1, 10) k,
            (SELECT CASE insure_stream.setting('on_bad_input') WHEN 'error' THEN 300 ELSE 400 END AS b) x
      ORDER BY k$$),
  (113, 'user_log.*', 'row k: column k null (k = 1..5), row 6: all null', '',
   $$INSERT INTO insure_stream.user_log
     SELECT CASE WHEN k NOT IN (1, 6) THEN 1790000000000 END, CASE WHEN k NOT IN (2, 6) THEN 'dev-' || (k + b) END,
            CASE WHEN k NOT IN (3, 6) THEN 'acc-' || (k + b) END, CASE WHEN k NOT IN (4, 6) THEN 'view' END,
            CASE WHEN k NOT IN (5, 6) THEN 'page-' || (k + b) END
       FROM generate_series(1, 6) k,
            (SELECT CASE insure_stream.setting('on_bad_input') WHEN 'error' THEN 300 ELSE 400 END AS b) x
      ORDER BY k$$),
  (114, 'raw_info.id', 'NULL', 'NULL',
   $$INSERT INTO insure_stream.raw_info VALUES (NULL, '100', 'no id')$$),
  (115, 'raw_info.raw_premium', 'NULL', '',
   $$INSERT INTO insure_stream.raw_info VALUES (CASE insure_stream.setting('on_bad_input') WHEN 'error' THEN 310 ELSE 410 END, NULL, 'no premium')$$),
  (116, 'raw_info.raw_info', 'NULL', '',
   $$INSERT INTO insure_stream.raw_info VALUES (CASE insure_stream.setting('on_bad_input') WHEN 'error' THEN 311 ELSE 411 END, '100', NULL)$$);
UPDATE cases SET val = 'NULL' WHERE n = 114;

SELECT insure_stream.configure('on_bad_input', 'error');
SELECT * FROM pg_temp.run(111, 116);
SELECT insure_stream.configure('on_bad_input', 'quarantine');
SELECT * FROM pg_temp.run(111, 116);
-- the same in both modes: users 1 and 10 (no id, no gmt_modified) are
-- filtered, null columns are null in last_order
SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM insure_stream.last_order
 WHERE id BETWEEN 300 AND 499 ORDER BY id;
-- key customers: 1 and 5 (no id, no now_premium) filtered; a null event
-- counts (saved_events is empty); a null now_info is written
SELECT id, raw_premium, raw_info FROM insure_stream.raw_info WHERE id BETWEEN 300 AND 499 ORDER BY id;
SELECT id, raw_info, now_info, raw_premium, now_premium FROM insure_stream.premium_alert
 WHERE id BETWEEN 300 AND 499 ORDER BY id;
-- pages: no log_time or no account_id is filtered; a null device is a device
SELECT account_id, device_id, bury_point_type, page_name FROM insure_stream.user_last_log
 WHERE account_id ~ '^acc-[34]' ORDER BY account_id;
SELECT count(*) AS quarantined_null_rows FROM insure_stream.rejected_events WHERE bad_value IS NULL;
SELECT * FROM insure_stream.event_classes() ORDER BY table_name;
SELECT * FROM insure_stream.verify();

-- ======================================================================
-- 8. Good and bad rows in one statement.  error: the first bad row fails
-- the statement and nothing changes; quarantine: the bad rows are kept
-- and quarantined, the good ones count, in their order.
-- ======================================================================
INSERT INTO insure_stream.raw_info VALUES (510, '100', 'mixed 510'), (511, '100', 'mixed 511');
INSERT INTO cases (n, target, shown, val, rowref, stmt) VALUES
  (121, 'user_order.account_payble', 'good, NaN, good, gmt_modified max', 'NaN', 'id 502',
   $$INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble) VALUES
     (501, 'PO-501', 1790000000000, 1), (502, 'PO-502', 1790000000000, 'NaN'),
     (503, 'PO-503', 1790000000000, 3), (504, 'PO-504', 9223372036854775807, 4)$$),
  (122, 'update_info.now_premium', '80, abc, 50, 40, NaN', 'abc', 'id 510',
   $$INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES
     (510, 'saved', '80', 'm1'), (510, 'saved', 'abc', 'm2'), (511, 'saved', '50', 'm3'),
     (510, 'saved', '40', 'm4'), (511, 'saved', 'NaN', 'm5')$$),
  (123, 'user_log.log_time', 'good, log_time max, good', '9223372036854775807', 'account_id acc-520',
   $$INSERT INTO insure_stream.user_log VALUES
     (1790000000000, 'dev', 'acc-520', 'view', 'first'), (9223372036854775807, 'dev', 'acc-520', 'view', 'bad'),
     (1790000000001, 'dev', 'acc-521', 'view', 'third')$$);

SELECT insure_stream.configure('on_bad_input', 'error');
SELECT * FROM pg_temp.run(121, 123);
SELECT id, order_no FROM insure_stream.last_order WHERE id > 500 ORDER BY id;
SELECT id, raw_premium, raw_info FROM insure_stream.raw_info WHERE id > 500 ORDER BY id;
SELECT account_id, page_name FROM insure_stream.user_last_log WHERE account_id LIKE 'acc-52%' ORDER BY 1;
SELECT insure_stream.configure('on_bad_input', 'quarantine');
SELECT * FROM pg_temp.run(121, 123);
SELECT id, order_no FROM insure_stream.last_order WHERE id > 500 ORDER BY id;
SELECT id, raw_premium, raw_info FROM insure_stream.raw_info WHERE id > 500 ORDER BY id;
SELECT id, raw_info, now_info, raw_premium, now_premium FROM insure_stream.premium_alert WHERE id > 500 ORDER BY id;
SELECT account_id, page_name FROM insure_stream.user_last_log WHERE account_id LIKE 'acc-52%' ORDER BY 1;
SELECT * FROM quarantined WHERE tag IN ('PO-502', 'PO-504', 'm2', 'm5', 'bad');

-- COPY with a bad line in the middle, in quarantine mode: the WARNING, the
-- good lines counted (in error mode the same COPY fails as in case 121)
COPY insure_stream.user_order (id, order_no, gmt_modified, account_payble) FROM STDIN;
531	PO-531	1790000000000	1
532	PO-532	1790000000000	NaN
533	PO-533	1790000000000	3
\.
SELECT id, order_no, account_payble FROM insure_stream.last_order WHERE id > 530 ORDER BY id;
SELECT * FROM quarantined WHERE tag = 'PO-532';
SELECT * FROM insure_stream.event_classes() ORDER BY table_name;
SELECT * FROM insure_stream.verify();

-- ======================================================================
-- 9. Order times before the Unix epoch (user_order.gmt_modified < 0) are
-- bad input (22008), whatever order_window: they have no local day and
-- hour that the trigger and the SQL re-derive agree on (BC years; before
-- 4714 BC no timestamp at all), so once in the log, even filtered, they
-- broke verify() and configure('order_window') (fixed with this test).
-- Other event times only order events: anything up to max_future (cases
-- 70, 71).
-- ======================================================================
INSERT INTO cases (n, target, shown, val, rowref, stmt)
SELECT n, 'user_order.gmt_modified', shown, shown, 'id ' || (500 + n),
       format('INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) VALUES (%s, ''PO-%s'', %s)',
              500 + n, 500 + n, shown)
  FROM (VALUES (131, '-1'), (132, '-62135596800000'), (133, '-210866803200001'),
               (134, '-9223372036854775808'), (135, '0')) AS v(n, shown);

SELECT insure_stream.configure('on_bad_input', 'error');
SELECT * FROM pg_temp.run(131, 135);
SELECT insure_stream.configure('on_bad_input', 'quarantine');
SELECT * FROM pg_temp.run(131, 135);
SELECT id, order_no, gmt_modified FROM insure_stream.last_order WHERE id > 630 ORDER BY id;
SELECT biz_date, total_premium, policy_cnt, policy_holder_cnt FROM insure_stream.hs_order
 WHERE biz_date < '2000' ORDER BY biz_date;
SELECT * FROM insure_stream.verify();
-- under order_window = day too (checked on every row, accepted or not);
-- switching the window re-derives from the log, which works
SELECT insure_stream.configure('order_window', 'day');
SELECT insure_stream.configure('on_bad_input', 'error');
SELECT * FROM pg_temp.run(134, 134);
SELECT insure_stream.configure('on_bad_input', 'quarantine');
SELECT * FROM pg_temp.run(134, 134);
SELECT insure_stream.configure('order_window', 'none');
SELECT * FROM quarantined WHERE tag ~ '^PO-63';
SELECT * FROM insure_stream.verify();

-- ======================================================================
-- 10. A long account_id with multibyte characters: the message names its
-- row with the id cut at a character boundary.  (Fixed with this test: the
-- cut fell inside a character, and a client in another encoding got
-- "invalid byte sequence" (22021) instead of the error, or in quarantine
-- mode an error instead of the WARNING.)  The client here reads LATIN1.
-- ======================================================================
SET client_encoding = 'LATIN1';
SELECT insure_stream.configure('on_bad_input', 'error');
INSERT INTO insure_stream.user_log VALUES
  (9223372036854775807, 'dev', repeat('a', 115) || repeat(chr(233), 10), 'view', 'long account');
SELECT insure_stream.configure('on_bad_input', 'quarantine');
INSERT INTO insure_stream.user_log VALUES
  (9223372036854775807, 'dev', repeat('a', 115) || repeat(chr(233), 10), 'view', 'long account');
RESET client_encoding;
SELECT table_name, ingest_seq, column_name, bad_value, reason, sqlstate,
       length(event->>'account_id') AS account_id_length
  FROM insure_stream.rejected_events WHERE event->>'page_name' = 'long account';
SELECT * FROM insure_stream.verify();

-- ======================================================================
-- 11. Values too long for a key: order_no, customer_tel, account_id and
-- device_id end up in btree keys of the results (hs_order's distinct
-- counts, page_state, user_last_log), so more than 1024 bytes are bad input, 22001,
-- however well the value compresses.  (Fixed with this test: a value that
-- did not compress below the btree limit failed the statement with 54000
-- "index row size ... exceeds" naming an internal index, even in
-- quarantine mode, where the rest of the statement was lost.)
-- ======================================================================
CREATE TEMP VIEW random_text AS
  SELECT string_agg(md5(i::text), '' ORDER BY i) AS t FROM generate_series(1, 300) i;
INSERT INTO cases (n, target, shown, val, rowref, stmt)
SELECT n, target, shown, val, rowref, stmt
  FROM random_text r, LATERAL (VALUES
    (141, 'user_order.order_no', '9600 hex digits', left(r.t, 32) || '...', 'id 641',
          'INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) SELECT 641, t, 1790000000000 FROM random_text'),
    (142, 'user_order.customer_tel', '9600 hex digits', left(r.t, 32) || '...', 'id 642',
          'INSERT INTO insure_stream.user_order (id, customer_tel, gmt_modified) SELECT 642, t, 1790000000000 FROM random_text'),
    (143, 'user_log.account_id', '9600 hex digits', left(r.t, 32) || '...', 'account_id ' || left(r.t, 64),
          'INSERT INTO insure_stream.user_log SELECT 1790000000000, ''dev'', t, ''view'', ''long'' FROM random_text'),
    (144, 'user_log.device_id', '9600 hex digits', left(r.t, 32) || '...', 'account_id acc-644',
          'INSERT INTO insure_stream.user_log SELECT 1790000000000, t, ''acc-644'', ''view'', ''long'' FROM random_text'),
    (145, 'track_page.account_id', '9600 hex digits', left(r.t, 32) || '...', 'track_page',
          'SELECT insure_stream.track_page(t, ''dev'', ''view'', ''long'', 1790000000000) FROM random_text'),
    (146, 'track_page.device_id', 'repeat(''d'', 1025)', repeat('d', 32) || '...', 'track_page',
          'SELECT insure_stream.track_page(''acc-646'', repeat(''d'', 1025), ''view'', ''long'', 1790000000000)'),
    (147, 'user_order.order_no', 'repeat(''k'', 1024)', NULL, '',
          'INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) VALUES (647, repeat(''k'', 1024), 1790000000000)'),
    (148, 'user_order.order_no', 'repeat(''k'', 1025)', repeat('k', 32) || '...', 'id 648',
          'INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) VALUES (648, repeat(''k'', 1025), 1790000000000)'),
    (149, 'user_log.device_id', 'good, 9600 hex digits, good', left(r.t, 32) || '...', 'account_id acc-649',
          'INSERT INTO insure_stream.user_log SELECT 1790000000000 + k, CASE k WHEN 2 THEN t ELSE ''dev'' END, ''acc-649'', ''view'', ''page '' || k FROM random_text, generate_series(1, 3) k ORDER BY k')
  ) AS v(n, target, shown, val, rowref, stmt);

SELECT insure_stream.configure('on_bad_input', 'error');
SELECT * FROM pg_temp.run(141, 149);
SELECT insure_stream.configure('on_bad_input', 'quarantine');
SELECT * FROM pg_temp.run(141, 149);
SELECT id, length(order_no) AS order_no_length FROM insure_stream.last_order WHERE id > 640 ORDER BY id;
SELECT account_id, device_id, page_name FROM insure_stream.user_last_log WHERE account_id = 'acc-649';
SELECT table_name, ingest_seq, column_name, bad_value, reason, sqlstate FROM quarantined WHERE sqlstate = '22001';
SELECT * FROM insure_stream.verify();

-- ======================================================================
-- 12. max_future (and retention) are at most 36500 days, about 100 years.
-- (Fixed with this test: '200000000 days' overflowed and was called
-- negative; '106751991 days' was accepted, and an order that far ahead
-- made verify() fail with "interval out of range"; a retention that large
-- made every maintenance() fail.)
-- ======================================================================
SELECT insure_stream.configure('max_future', '36501 days');
\echo :SQLSTATE
SELECT insure_stream.configure('max_future', '200000000 days');
\echo :SQLSTATE
SELECT insure_stream.configure('max_future', '106751991 days');
\echo :SQLSTATE
SELECT insure_stream.configure('max_future', '-200000000 days');
\echo :SQLSTATE
SELECT insure_stream.configure('retention', '106751991 days');
\echo :SQLSTATE
SELECT name, value, is_default FROM insure_stream.settings WHERE name IN ('max_future', 'retention') ORDER BY name;
INSERT INTO cases (n, target, shown, val_sql, rowref, stmt) VALUES
  (151, 'user_order.gmt_modified', 'now() + 36499 days', '(extract(epoch FROM now() + interval ''36499 days'') * 1000)::bigint', '',
   'INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) VALUES (651, ''far'', (extract(epoch FROM now() + interval ''36499 days'') * 1000)::bigint)'),
  (152, 'user_order.gmt_modified', 'now() + 36501 days', '(extract(epoch FROM now() + interval ''36501 days'') * 1000)::bigint', 'id 652',
   'INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) VALUES (652, ''too far'', (extract(epoch FROM now() + interval ''36501 days'') * 1000)::bigint)');
BEGIN;   -- now() the same in both modes
SELECT insure_stream.configure('max_future', '36500 days');
SELECT insure_stream.configure('on_bad_input', 'error');
SELECT * FROM pg_temp.run(151, 152);
SELECT insure_stream.configure('on_bad_input', 'quarantine');
SET client_min_messages = error;   -- the WARNING quotes a now()-dependent time
SELECT * FROM pg_temp.run(151, 152);
RESET client_min_messages;
SELECT insure_stream.configure('max_future', '1 day');
COMMIT;
SELECT id, order_no FROM insure_stream.last_order WHERE id > 650 ORDER BY id;
SELECT table_name, ingest_seq, column_name, reason, sqlstate, tag FROM quarantined WHERE tag = 'too far';
SELECT * FROM insure_stream.verify();

-- ======================================================================
-- Quarantined rows never count, not even after a re-derive: rebuild()
-- changes no result, and the rejected rows are still all there.
-- ======================================================================
SELECT pg_temp.mark();
SELECT insure_stream.rebuild();
SELECT pg_temp.changes();
SELECT table_name, count(*) AS quarantined FROM insure_stream.rejected_events GROUP BY 1 ORDER BY 1;
SELECT * FROM insure_stream.event_classes() ORDER BY table_name;
SELECT * FROM insure_stream.verify();

-- ======================================================================
-- leave the database as we found it
-- ======================================================================
TRUNCATE insure_stream.user_order, insure_stream.update_info, insure_stream.user_log,
  insure_stream.raw_info, insure_stream.order_state, insure_stream.order_hour_closed,
  insure_stream.order_last_closed, insure_stream.premium_alert, insure_stream.premium_applied,
  insure_stream.page_state, insure_stream.rejected_events;
DELETE FROM insure_stream.config WHERE NOT is_default AND name <> 'time_zone';
SELECT setval('insure_stream.user_order_ingest_seq_seq', 1, false);
SELECT setval('insure_stream.update_info_ingest_seq_seq', 1, false);
SELECT setval('insure_stream.user_log_ingest_seq_seq', 1, false);
SELECT setval('insure_stream.rejected_events_rejection_id_seq', 1, false);
SELECT name, value, is_default FROM insure_stream.settings WHERE name <> 'time_zone' ORDER BY name;
