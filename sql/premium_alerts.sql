-- Scenario 2: premium-drop alerts of key customers (threshold 0.15)
SET TimeZone = 'UTC';
CREATE TEMP VIEW alerts AS
  SELECT id, raw_info, now_info, raw_premium, now_premium FROM insure_stream.premium_alert ORDER BY id;
CREATE TEMP VIEW keys AS SELECT id, raw_premium, raw_info FROM insure_stream.raw_info ORDER BY id;
INSERT INTO insure_stream.raw_info VALUES
  (1, '100', 'policy-1'), (2, '100', 'policy-2'), (3, NULL, 'no premium yet'), (4, '1e2', 'exp'),
  (5, ' 200.00 ', 'blanks');

-- exactly 15% less: no alert; just over: alert; raw_info rewritten either way
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES
  (1, 'saved', '85', 'policy-1b'),
  (2, 'saved', '84.99', 'policy-2b');
SELECT * FROM alerts;
SELECT * FROM keys;

-- several rows for one key customer in one statement, in arrival order:
-- 85 -> 50 alerts, 50 -> 49 does not, 49 -> 20 alerts (the latest alert stays)
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES
  (1, 'saved', '50', 'step-1'), (1, 'saved', '49', 'step-2'), (1, 'saved', '20', 'step-3');
SELECT * FROM alerts WHERE id = 1;
SELECT * FROM keys WHERE id = 1;

-- unknown ids change nothing; a null raw_premium never alerts but is rewritten
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES
  (99, 'saved', '1', 'unknown'), (3, 'saved', '1', NULL);
SELECT * FROM keys WHERE id IN (3, 99);
SELECT count(*) AS alerts_for_3_or_99 FROM insure_stream.premium_alert WHERE id IN (3, 99);

-- premiums are exact decimals: exponents, blanks, signs, .5
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES
  (4, 'saved', ' +.5e2 ', 'exp-b'), (5, 'saved', '169.9999999999999999999', 'blanks-b');
SELECT * FROM alerts WHERE id IN (4, 5);
SELECT * FROM keys WHERE id IN (4, 5);

-- rows without id or now_premium are filtered; saved_events filters by event
SELECT insure_stream.configure('saved_events', 'saved, paid');
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES
  (2, 'draft', '1', 'not saved'), (2, NULL, '1', 'no event'), (NULL, 'saved', '1', 'no id'),
  (2, 'saved', NULL, 'no premium'), (2, 'paid', '84.99', 'paid counts');
SELECT * FROM keys WHERE id = 2;
SELECT accepted, filtered, rejected FROM insure_stream.event_classes() WHERE table_name = 'update_info';
SELECT insure_stream.configure('saved_events', '');

-- a different threshold
SELECT insure_stream.configure('drop_threshold', '0.5');
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (5, 'saved', '100', 'half');
SELECT * FROM alerts WHERE id = 5;
SELECT insure_stream.configure('drop_threshold', '0.15');

-- operators edit raw_info; later events see the edit; deleting keeps alerts
UPDATE insure_stream.raw_info SET raw_premium = '1000' WHERE id = 2;
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (2, 'saved', '800', 'after edit');
SELECT * FROM alerts WHERE id = 2;
DELETE FROM insure_stream.raw_info WHERE id = 2;
SELECT count(*) AS alert_kept FROM insure_stream.premium_alert WHERE id = 2;
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (2, 'saved', '1', 'deleted customer');
SELECT * FROM alerts WHERE id = 2;

-- replaying events already applied changes nothing (a restore replays)
CREATE TEMP TABLE keys_before AS SELECT * FROM keys;
INSERT INTO insure_stream.update_info (id, channel, open_id, event, now_premium, creator, modifier,
                                       gmt_modified, now_info, ingest_seq, ingested_at)
  OVERRIDING SYSTEM VALUE
  SELECT id, channel, open_id, event, now_premium, creator, modifier, gmt_modified, now_info,
         ingest_seq, ingested_at
    FROM insure_stream.update_info WHERE id = 1 ORDER BY ingest_seq;
SELECT count(*) AS changed FROM (SELECT * FROM keys EXCEPT SELECT * FROM keys_before) d;

SELECT * FROM insure_stream.verify();

-- bad input, error mode: nothing changes
\set VERBOSITY default
INSERT INTO insure_stream.update_info (id, event, now_premium) VALUES (1, 'saved', '10'), (1, 'saved', 'abc');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
INSERT INTO insure_stream.update_info (id, now_premium) VALUES (1, '');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO insure_stream.update_info (id, now_premium) VALUES (1, 'NaN');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO insure_stream.update_info (id, now_premium) VALUES (1, 'Infinity');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO insure_stream.update_info (id, now_premium) VALUES (1, '1e999999');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO insure_stream.update_info (id, now_premium) VALUES (1, '1,000');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO insure_stream.update_info (id, now_premium, gmt_modified) VALUES (1, '5', 4102444800000);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM keys WHERE id = 1;
-- raw_info.raw_premium is checked when written, by anyone
INSERT INTO insure_stream.raw_info VALUES (7, 'twelve', 'x');
\echo :LAST_ERROR_SQLSTATE
UPDATE insure_stream.raw_info SET raw_premium = 'NaN' WHERE id = 1;
\echo :LAST_ERROR_SQLSTATE

-- quarantine mode: the bad row is kept aside, the others are processed
SELECT insure_stream.configure('on_bad_input', 'quarantine');
\set VERBOSITY default
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES
  (1, 'saved', 'Infinity', 'bad'), (1, 'saved', '15', 'good');
\set VERBOSITY terse
SELECT * FROM keys WHERE id = 1;
SELECT table_name, column_name, bad_value, reason, sqlstate, event->>'now_info' AS now_info
  FROM insure_stream.rejected_events WHERE table_name = 'update_info';
SELECT insure_stream.configure('on_bad_input', 'error');
SELECT * FROM insure_stream.verify();

-- a statement with more events than the fold holds (16 x work_mem) is
-- applied in rounds, in arrival order: 30000 events of 40 key customers,
-- premiums going up and down.  Every alert and every raw_info row equals a
-- sequential replay of the events (the last alert per key customer).
INSERT INTO insure_stream.raw_info SELECT 900 + g, '1000', 'start' FROM generate_series(1, 40) g;
SELECT pg_stat_force_next_flush();  -- the count below is this transaction's alone
BEGIN;
SET LOCAL work_mem = '64kB';
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info)
SELECT 901 + g % 40, 'saved', (100 + (hashint4(g) & 1023))::text, 'i' || g FROM generate_series(1, 30000) g;
SELECT n_tup_upd > 40 AS written_in_rounds FROM pg_stat_xact_all_tables
 WHERE relid = 'insure_stream.raw_info'::regclass;
COMMIT;
CREATE TEMP VIEW replayed AS
  WITH ev AS (
    SELECT e.id, e.ingest_seq, e.now_premium, e.now_info,
           COALESCE(lag(e.now_premium) OVER w, '1000') AS raw_premium,
           COALESCE(lag(e.now_info) OVER w, 'start') AS raw_info
      FROM insure_stream.update_info e WHERE e.id > 900
    WINDOW w AS (PARTITION BY e.id ORDER BY e.ingest_seq))
  SELECT DISTINCT ON (id) id, raw_info, now_info, raw_premium, now_premium
    FROM ev WHERE now_premium::numeric < raw_premium::numeric * 0.85
   ORDER BY id, ingest_seq DESC;
SELECT count(*) AS alerted_key_customers FROM replayed;
SELECT count(*) AS differing_alerts FROM (
  (SELECT * FROM replayed EXCEPT SELECT * FROM insure_stream.premium_alert WHERE id > 900)
  UNION ALL
  (SELECT * FROM insure_stream.premium_alert WHERE id > 900 EXCEPT SELECT * FROM replayed)) d;
SELECT count(*) AS differing_key_customers FROM insure_stream.raw_info r
  JOIN LATERAL (SELECT e.now_premium, e.now_info FROM insure_stream.update_info e
                 WHERE e.id = r.id ORDER BY e.ingest_seq DESC LIMIT 1) l ON true
 WHERE r.id > 900 AND (r.raw_premium, r.raw_info) IS DISTINCT FROM (l.now_premium, l.now_info);
SELECT * FROM insure_stream.verify();
DROP VIEW replayed;

-- the drop test runs in integers for premiums of at most 15 digits and 6
-- after the point, in numeric otherwise; both are exact at the boundary
CREATE TEMP TABLE drop_cases (id bigint, raw text, now text);
INSERT INTO drop_cases VALUES
  (811, '0.000001', '0.00000085'), (812, '-100', '-85.000001'),
  (813, '999999999.999999', '849999999.999999'), (814, '100.0000001', '85.00000008'),
  (815, '100', '85.000000'), (816, '1000000000000000', '849999999999999.99'),
  (817, ' +100.5 ', '85.424999');
INSERT INTO insure_stream.raw_info (id, raw_premium, raw_info) SELECT id, raw, 'case' FROM drop_cases;
INSERT INTO insure_stream.update_info (id, now_premium, now_info) SELECT id, now, 'case-b' FROM drop_cases ORDER BY id;
SELECT c.id, c.raw, c.now, c.now::numeric < c.raw::numeric * 0.85 AS drops,
       EXISTS (SELECT FROM insure_stream.premium_alert a WHERE a.id = c.id) AS alerted
  FROM drop_cases c ORDER BY c.id;
DROP TABLE drop_cases;

-- raw_info is rewritten through SQL, so an operator's own trigger on it
-- sees every rewrite: from a statement with one key customer (a plain
-- UPDATE by id) and from one with several (the batch form)
CREATE TABLE public.raw_info_audit (id bigint, old_premium varchar, new_premium varchar, new_info varchar);
CREATE FUNCTION public.audit_raw_info() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.raw_info_audit VALUES (NEW.id, OLD.raw_premium, NEW.raw_premium, NEW.raw_info);
  RETURN NEW;
END $$;
CREATE TRIGGER audit AFTER UPDATE ON insure_stream.raw_info
  FOR EACH ROW EXECUTE FUNCTION public.audit_raw_info();
INSERT INTO insure_stream.raw_info VALUES (821, '100', 'a'), (822, '100', 'b');
INSERT INTO insure_stream.update_info (id, now_premium, now_info) VALUES (821, '90', NULL);
INSERT INTO insure_stream.update_info (id, now_premium, now_info) VALUES (821, '80', 'a2'), (822, '50', 'b2');
SELECT * FROM public.raw_info_audit ORDER BY id, new_premium DESC;
SELECT * FROM insure_stream.raw_info WHERE id IN (821, 822) ORDER BY id;
DROP TRIGGER audit ON insure_stream.raw_info;
DROP FUNCTION public.audit_raw_info();
DROP TABLE public.raw_info_audit;
-- raw_info is rewritten directly only where an UPDATE would check nothing
-- more: a CHECK constraint an operator adds is checked (the rewrite goes
-- through SQL), and the failed statement changes nothing
ALTER TABLE insure_stream.raw_info ADD CONSTRAINT short_premium CHECK (length(raw_premium) < 4) NOT VALID;
INSERT INTO insure_stream.update_info (id, now_premium, now_info) VALUES (821, '1000', 'a3');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO insure_stream.update_info (id, now_premium, now_info) VALUES (821, '70', 'a3');
ALTER TABLE insure_stream.raw_info DROP CONSTRAINT short_premium;
SELECT * FROM insure_stream.raw_info WHERE id = 821;
SELECT id, raw_premium, now_premium, now_info FROM insure_stream.premium_alert WHERE id = 821;

-- notifications carry the key customer's id; notify_payload = alert adds
-- the alert's data (every role that can connect may listen)
LISTEN insure_stream_premium_drop;
INSERT INTO insure_stream.raw_info VALUES (831, '100', 'c');
\o results/premium_alerts.notify
INSERT INTO insure_stream.update_info (id, now_premium, now_info) VALUES (831, '50', 'c2');
\o
\! sed -e 's/PID [0-9]*/PID N/' results/premium_alerts.notify
SELECT insure_stream.configure('notify_payload', ' Alert ');
\o results/premium_alerts.notify
INSERT INTO insure_stream.update_info (id, now_premium, now_info) VALUES (831, '10', 'c3');
\o
\! sed -e 's/PID [0-9]*/PID N/' results/premium_alerts.notify
SELECT insure_stream.configure('notify_payload', 'all');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.configure('notify_payload', 'id');
-- notify = deferred: nothing at commit; the notification waits in
-- alert_outbox until forward_alerts() sends it (and removes it), oldest first
SELECT insure_stream.configure('notify', ' Deferred ');
SELECT insure_stream.configure('notify_payload', 'alert');
\o results/premium_alerts.notify
INSERT INTO insure_stream.update_info (id, now_premium, now_info) VALUES (831, '5', 'c4'), (831, '2', 'c5');
\o
\! sed -e 's/PID [0-9]*/PID N/' results/premium_alerts.notify
SELECT id, payload FROM insure_stream.alert_outbox ORDER BY alert_seq;
\o results/premium_alerts.notify
SELECT insure_stream.forward_alerts(1);
SELECT insure_stream.forward_alerts();
SELECT insure_stream.forward_alerts();
\o
\! sed -e 's/PID [0-9]*/PID N/' results/premium_alerts.notify
SELECT insure_stream.configure('notify_payload', 'id');
-- notify = off: the alert is kept in premium_alert, nobody is told
SELECT insure_stream.configure('notify', 'off');
\o results/premium_alerts.notify
INSERT INTO insure_stream.update_info (id, now_premium, now_info) VALUES (831, '1', 'c6');
\o
\! sed -e 's/PID [0-9]*/PID N/' results/premium_alerts.notify
SELECT count(*) AS queued FROM insure_stream.alert_outbox;
SELECT id, raw_info, now_info, raw_premium, now_premium FROM insure_stream.premium_alert WHERE id = 831;
SELECT insure_stream.configure('notify', 'later');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.configure('notify', 'commit');
UNLISTEN *;

-- the log is append-only
UPDATE insure_stream.update_info SET now_premium = '0';

-- leave the database as we found it
TRUNCATE insure_stream.update_info, insure_stream.raw_info, insure_stream.premium_alert,
  insure_stream.premium_applied, insure_stream.rejected_events;
DELETE FROM insure_stream.config WHERE NOT is_default AND name <> 'time_zone';
DROP VIEW alerts;
DROP VIEW keys;
