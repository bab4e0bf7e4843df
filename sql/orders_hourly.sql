-- Scenario 1: last order per (user, day) and hourly figures
-- Times are fixed epoch milliseconds; the zone is Asia/Shanghai (UTC+8).
-- 1795572000000 = 2026-11-25 10:00:00 +08
SET TimeZone = 'UTC';
\set h10 1795572000000
\set h11 1795575600000
\set h12 1795579200000
\set nextday 1795622400000
SELECT insure_stream.configure('order_window', 'none');

-- the figures as SQL would compute them from the state (for comparison)
CREATE TEMP VIEW hours AS
  SELECT biz_date, round(total_premium::numeric, 6) AS total_premium, policy_cnt, policy_holder_cnt
    FROM insure_stream.hs_order ORDER BY biz_date;

-- nulls skipped per column; the latest gmt_modified wins per column
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (1, 'P1', 'T1', :h10, 100),
  (2, 'P2', 'T2', :h10 + 60000, 50),
  (1, NULL, 'T1b', :h10 + 120000, NULL);
SELECT * FROM insure_stream.last_order ORDER BY id;
SELECT * FROM hours;

-- out of order: an older event changes nothing it is older than
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
  VALUES (1, 'P1-old', NULL, :h10 - 60000, 7);
SELECT * FROM insure_stream.last_order WHERE id = 1;

-- ties on gmt_modified go to the row ingested later (statement row order)
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) VALUES
  (3, 'first', :h10), (3, 'second', :h10);
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) VALUES (3, 'third', :h10);
SELECT id, order_no FROM insure_stream.last_order WHERE id = 3;

-- a user's last order moves to another hour: retracted from 10, added to 11
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
  VALUES (2, 'P2b', 'T2', :h11, 70);
SELECT * FROM hours;

-- retraction empties an hour: the hour row goes away
INSERT INTO insure_stream.user_order (id, gmt_modified) VALUES (1, :h12), (3, :h12);
SELECT * FROM hours;

-- distinct counts: shared values count once, '' counts, nulls do not
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (10, 'shared', '', :h12 + 1000, 1),
  (11, 'shared', '', :h12 + 2000, 2),
  (12, NULL, NULL, :h12 + 3000, NULL);
SELECT * FROM hours;
-- one of the two holders of 'shared' leaves the hour: still counted once
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) VALUES (10, 'moved', :h11 + 1);
SELECT * FROM hours;

-- an hour whose users have no amounts, order numbers or tels: 0, 0, 0
INSERT INTO insure_stream.user_order (id, gmt_modified) VALUES (20, :h10 + 5000);
SELECT * FROM hours WHERE biz_date = '2026112510';

-- exact money: 0.1 + 0.2 is 0.3; refunds and -0.0 are amounts like others
INSERT INTO insure_stream.user_order (id, gmt_modified, account_payble) VALUES
  (30, :h10 + 7000, 0.1), (31, :h10 + 8000, 0.2), (32, :h10 + 9000, -0.05), (33, :h10 + 9500, '-0'::float8);
SELECT biz_date, total_premium, total_premium = 0.25 AS exact
  FROM insure_stream.hs_order WHERE biz_date = '2026112510';
-- last_order keeps the input double bit for bit
SELECT id, account_payble, account_payble::text FROM insure_stream.last_order WHERE id IN (30, 33) ORDER BY id;

-- the next day: per-day figures, yesterday's hours unchanged
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
  VALUES (2, 'P2-next', 'T2', :nextday + 3600000, 5);
SELECT * FROM hours;
SELECT id, order_no, gmt_modified FROM insure_stream.last_order WHERE id = 2;
-- last_order shows only the latest day: a column null all that day is null
INSERT INTO insure_stream.user_order (id, gmt_modified) VALUES (1, :nextday + 60000);
SELECT * FROM insure_stream.last_order WHERE id = 1;

-- COPY folds like INSERT
COPY insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) FROM STDIN WITH (FORMAT csv);
40,C1,CT1,1795572000000,1.5
40,C2,,1795572001000,
41,C3,CT3,1795575600000,2.25
\.
SELECT * FROM insure_stream.last_order WHERE id IN (40, 41) ORDER BY id;

-- INSERT ... SELECT ... ORDER BY defines arrival order for ties
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified)
  SELECT 50, 'v' || g, :h10 FROM generate_series(1, 5) g ORDER BY g DESC;
SELECT id, order_no FROM insure_stream.last_order WHERE id = 50;

-- rows without id or gmt_modified are kept and counted as filtered
INSERT INTO insure_stream.user_order (id, gmt_modified) VALUES (NULL, :h10), (60, NULL);
SELECT count(*) FROM insure_stream.user_order WHERE id IS NULL OR gmt_modified IS NULL;
SELECT accepted, filtered, rejected FROM insure_stream.event_classes() WHERE table_name = 'user_order';

-- everything agrees with a recomputation from the log
SELECT * FROM insure_stream.verify();

-- bad input: non-finite amounts, event time beyond max_future
\set VERBOSITY default
INSERT INTO insure_stream.user_order (id, gmt_modified, account_payble) VALUES (70, :h10, 1), (71, :h10, 'NaN');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO insure_stream.user_order (id, gmt_modified, order_price) VALUES (72, :h10, '-Infinity');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO insure_stream.user_order (id, gmt_modified) VALUES (73, 4102444800000);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS unchanged FROM insure_stream.order_state WHERE id IN (70, 71, 72, 73);
SELECT insure_stream.configure('on_bad_input', 'quarantine');
INSERT INTO insure_stream.user_order (id, gmt_modified, account_payble) VALUES (70, :h10, 1), (71, :h10, 'Infinity');
SELECT table_name, column_name, bad_value, reason, sqlstate, event->>'id' AS id
  FROM insure_stream.rejected_events ORDER BY rejection_id;
SELECT id FROM insure_stream.order_state WHERE id IN (70, 71) ORDER BY id;
SELECT insure_stream.configure('on_bad_input', 'error');
\set VERBOSITY terse

-- the log is append-only
UPDATE insure_stream.user_order SET account_payble = 0;
DELETE FROM insure_stream.user_order;

-- re-derive: a rebuild gives the same results
CREATE TEMP TABLE before_rebuild AS SELECT * FROM insure_stream.hs_order;
SELECT insure_stream.rebuild();
SELECT * FROM insure_stream.hs_order EXCEPT SELECT * FROM before_rebuild;
SELECT * FROM before_rebuild EXCEPT SELECT * FROM insure_stream.hs_order;
SELECT * FROM insure_stream.verify();

-- a new time zone re-derives the hours; switching back restores them exactly
SELECT insure_stream.configure('time_zone', 'UTC');
SELECT * FROM hours LIMIT 3;
SELECT * FROM insure_stream.verify();
SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
SELECT count(*) AS differing FROM (
  SELECT * FROM insure_stream.hs_order EXCEPT SELECT * FROM before_rebuild) d;

-- order_window = day: a row counts when gmt_modified is not before the
-- start of the local day of its ingest (ingested_at, normally now())
SELECT insure_stream.configure('order_window', 'day');
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, ingested_at) VALUES
  (80, 'same-day', :h10, '2026-11-25 09:00+08'),
  (81, 'day-before', :h10 - 86400000, '2026-11-25 09:00+08'),
  (82, 'late-evening', :h10 + 12 * 3600000, '2026-11-25 09:00+08');
SELECT id, order_no FROM insure_stream.last_order WHERE id >= 80 ORDER BY id;
SELECT * FROM insure_stream.verify();
-- today's rows count, yesterday's do not (now()-relative, printed as booleans)
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) VALUES
  (90, 'now', (extract(epoch FROM now()) * 1000)::bigint),
  (91, 'yesterday', (extract(epoch FROM now() - interval '2 days') * 1000)::bigint),
  (92, 'tomorrow', (extract(epoch FROM now() + interval '20 hours') * 1000)::bigint);
SELECT id, order_no FROM insure_stream.last_order WHERE id >= 90 ORDER BY id;
SELECT * FROM insure_stream.verify();

-- a row ingested three days ago counted for its own day
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, ingested_at) VALUES
  (95, 'three days ago', (extract(epoch FROM now() - interval '3 days') * 1000)::bigint, now() - interval '3 days'),
  (95, 'today', (extract(epoch FROM now()) * 1000)::bigint, DEFAULT);
SELECT count(*) AS days_of_95 FROM insure_stream.order_state WHERE id = 95;
SELECT * FROM insure_stream.verify();

-- maintenance: close past days (their hour figures stored, each user's latest day kept)
CREATE TEMP TABLE before_compact AS SELECT * FROM insure_stream.hs_order;
SELECT insure_stream.compact_orders() >= 1 AS states_removed;
SELECT order_no FROM insure_stream.order_state WHERE id = 95;
SELECT order_no FROM insure_stream.last_order WHERE id = 95;
SELECT order_no, day < (now() AT TIME ZONE 'Asia/Shanghai')::date AS closed_day
  FROM insure_stream.order_last_closed WHERE id = 95;
SELECT count(*) AS past_states_open FROM insure_stream.order_state s
 WHERE day < (now() AT TIME ZONE 'Asia/Shanghai')::date;
SELECT count(*) AS closed_hours FROM insure_stream.order_hour_closed;
-- a second call the same day has nothing to close
SELECT insure_stream.compact_orders() AS closed_again;
SELECT count(*) AS differing FROM (
  SELECT * FROM insure_stream.hs_order EXCEPT SELECT * FROM before_compact) d;
SELECT * FROM insure_stream.verify();

-- hs_order_hours(): the view's rows of a range of hours, closed and open
-- hours alike; one hour by default; a bad hour is a class-22 error
SELECT (SELECT count(*) FROM insure_stream.order_hour_closed) > 0 AS some_closed,
       (SELECT count(*) FROM insure_stream.order_state) > 0 AS some_open,
       (SELECT count(*) FROM (SELECT * FROM insure_stream.hs_order_hours('0000000000', '9999999999')
                              EXCEPT ALL SELECT * FROM insure_stream.hs_order) d) AS extra,
       (SELECT count(*) FROM (SELECT * FROM insure_stream.hs_order
                              EXCEPT ALL SELECT * FROM insure_stream.hs_order_hours('0000000000', '9999999999')) d) AS missing;
SELECT h.kind AS one_hour,
       (SELECT array_agg(v::text) FROM insure_stream.hs_order v WHERE v.biz_date = h.b)
       = (SELECT array_agg(f::text) FROM insure_stream.hs_order_hours(h.b) f) AS same_row
  FROM (VALUES ('closed', (SELECT min(biz_date) FROM insure_stream.order_hour_closed)),
               ('open', (SELECT max(biz_date) FROM insure_stream.order_state))) h(kind, b)
 ORDER BY 1;
SELECT count(*) AS hours_in_range FROM insure_stream.hs_order_hours('2100010100', '2100123123');
SELECT count(*) AS empty_range FROM insure_stream.hs_order_hours('2026120523', '2026120500');
DO $$
DECLARE
  bad text[] := ARRAY['2026-12-05 10', NULL, '20261205', '20261205100'];
BEGIN
  FOR i IN 1 .. array_length(bad, 1) LOOP
    BEGIN
      PERFORM insure_stream.hs_order_hours(bad[i]);
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
    END;
  END LOOP;
  BEGIN
    PERFORM insure_stream.hs_order_hours('2026120500', 'x');
  EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
  END;
END
$$;

-- last_order_of(): the view's rows of the users given, all users when
-- NULL; users whose latest day is closed or open alike; an unknown or a
-- null id matches nothing, a repeated one gives its row once
SELECT (SELECT count(*) FROM insure_stream.last_order) > 0 AS some_users,
       (SELECT count(*) FROM (SELECT * FROM insure_stream.last_order_of()
                              EXCEPT ALL SELECT * FROM insure_stream.last_order) d) AS extra,
       (SELECT count(*) FROM (SELECT * FROM insure_stream.last_order
                              EXCEPT ALL SELECT * FROM insure_stream.last_order_of(NULL)) d) AS missing;
SELECT u.kind AS latest_day, u.id IS NOT NULL AS found,
       (SELECT array_agg(v::text) FROM insure_stream.last_order v WHERE v.id = u.id)
       = (SELECT array_agg(f::text) FROM insure_stream.last_order_of(ARRAY[u.id]) f) AS same_row
  FROM (VALUES ('closed', (SELECT min(c.id) FROM insure_stream.order_last_closed c
                            WHERE NOT EXISTS (SELECT FROM insure_stream.order_state s WHERE s.id = c.id))),
               ('open', (SELECT max(id) FROM insure_stream.order_state))) u(kind, id)
 ORDER BY 1;
SELECT count(*) AS unknown_and_null FROM insure_stream.last_order_of(ARRAY[-1, NULL]::bigint[]);
SELECT count(*) AS none FROM insure_stream.last_order_of('{}');
SELECT count(*) AS two_users
  FROM insure_stream.last_order_of(ARRAY[(SELECT min(id) FROM insure_stream.last_order),
                                         (SELECT max(id) FROM insure_stream.last_order),
                                         (SELECT max(id) FROM insure_stream.last_order)]);

-- a statement whose user-days do not fit the fold (16 x work_mem) spills
-- it to a sort and folds again from there: 40000 orders of 12000 user-days
-- (around two local midnights), shuffled, with nulls and ties; equal to a
-- recomputation
SELECT insure_stream.configure('order_window', 'none');
SET work_mem = '64kB';
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT 5000 + g % 6000, CASE WHEN g % 7 = 0 THEN NULL ELSE 'S' || g % 9001 END,
       CASE WHEN g % 5 = 0 THEN NULL ELSE 'T' || g % 6000 END,
       1790000000000 + (g % 2) * 86400000 + (g % 13) * 1000000,
       CASE WHEN g % 3 = 0 THEN NULL ELSE (g % 1000) / 10.0 END
  FROM generate_series(1, 40000) g ORDER BY hashint4(g);
RESET work_mem;
SELECT count(*) AS user_days FROM insure_stream.order_state WHERE id >= 5000;
SELECT * FROM insure_stream.verify();

-- a large statement of mostly new user-days tries inserting before looking
-- (direct.c); the few that exist are merged after all (their speculative
-- tuples killed: the deletions counted below), never duplicated
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT 20000 + g, 'M' || g, 'MT' || g, 1790000000000, 1 FROM generate_series(1, 4000, 50) g;
SELECT pg_stat_force_next_flush();  -- the counts below are this transaction's alone
BEGIN;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT 20000 + g, 'M' || g, 'MT' || g, 1790000000000 + 3600000, 2 FROM generate_series(1, 4000) g;
SELECT n_tup_upd AS merged, n_tup_del > 0 AS inserted_first FROM pg_stat_xact_all_tables
 WHERE relid = 'insure_stream.order_state'::regclass;
COMMIT;
SELECT count(*) AS user_days, sum(account_payble) AS payble FROM insure_stream.last_order WHERE id > 20000;
SELECT * FROM insure_stream.verify();

-- long order numbers and phones: stored compressed, read back exactly
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
VALUES (4999, repeat('n', 1000), repeat('t', 1000), 1790000000000, 1.5);
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
VALUES (4999, repeat('n', 999), NULL, 1790000000001, NULL);
SELECT length(order_no), length(customer_tel), account_payble FROM insure_stream.last_order WHERE id = 4999;
SELECT * FROM insure_stream.verify();

-- one statement of many rows with values longer than the fold keeps inline
-- (orders.c, PIPE_TEXT_BYTES), shuffled, winning and losing in turn
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT 4998, repeat('L', 40 + g % 30) || g, CASE WHEN g % 2 = 0 THEN repeat('p', 45 + g % 10) || g END,
       1790000000000 + (g % 37) * 1000, g
  FROM generate_series(1, 300) g ORDER BY hashint4(g);
SELECT length(order_no), right(order_no, 3), length(customer_tel), right(customer_tel, 3), account_payble
  FROM insure_stream.last_order WHERE id = 4998;
SELECT * FROM insure_stream.verify();

-- a value set by the state's latest order is stored without a time and
-- number of its own (NULL _at/_seq: they are the row's); a value kept from
-- an older order keeps its own (user 1's first day: its latest order had
-- none of the three; its second day: no values at all)
SELECT id, gmt_modified, order_no, order_no_at, order_no_seq IS NULL AS order_no_seq_null,
       customer_tel, customer_tel_at, customer_tel_seq IS NULL AS tel_seq_null,
       account_payble, account_payble_at
  FROM insure_stream.order_state WHERE id = 1 ORDER BY day;
-- rows written before 0.2.1 carry the row's own time and number: they are
-- read, merged into and verified as the short form
UPDATE insure_stream.order_state
   SET customer_tel_at = gmt_modified, customer_tel_seq = gmt_seq
 WHERE customer_tel IS NOT NULL AND customer_tel_at IS NULL;
SELECT count(*) > 0 AS long_form_rows FROM insure_stream.order_state WHERE customer_tel_at = gmt_modified;
SELECT * FROM insure_stream.verify();
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT id, 'later', NULL, gmt_modified + 1, NULL FROM insure_stream.order_state WHERE customer_tel_at = gmt_modified;
SELECT count(*) > 0 AS merged, bool_and(order_no_at IS NULL) AS number_short,
       bool_and(customer_tel_at = gmt_modified - 1) AS tel_kept_with_its_time
  FROM insure_stream.order_state WHERE order_no = 'later';
SELECT * FROM insure_stream.verify();

-- back to the defaults
DELETE FROM insure_stream.config WHERE NOT is_default AND name <> 'time_zone';
DROP VIEW hours;
TRUNCATE insure_stream.user_order, insure_stream.order_state, insure_stream.order_hour_closed,
  insure_stream.order_last_closed, insure_stream.rejected_events, insure_stream.maintenance_state;
SELECT setval('insure_stream.user_order_ingest_seq_seq', 1, false);
