-- ingested_at values a client could store before 0.2.0 (-infinity,
-- infinity, the Unix epoch) never break verify(), status() or rebuild():
-- under order_window = day an order ingested at -infinity is before every
-- day (it always counts), one ingested at infinity after every day (it
-- never does), and the Unix epoch is a day like any other.
-- 1795572000000 = 2026-11-25 10:00 +08 (Asia/Shanghai)
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SELECT insure_stream.configure('order_window', 'day');
-- ingested now, a day long past: filtered
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) VALUES
  (1, 'minus-infinity', 1795572000000),
  (2, 'infinity', 1795572000000),
  (3, 'epoch', 1795572000000),
  (4, 'same-day', 1795572000000),
  (5, 'day-after', 1795572000000);
SELECT count(*) AS states FROM insure_stream.order_state;
-- the log as an older client could have written it (no trigger runs)
SET session_replication_role = replica;
UPDATE insure_stream.user_order SET ingested_at = v.at
  FROM (VALUES (1, '-infinity'::timestamptz), (2, 'infinity'), (3, '1970-01-01 00:00+00'),
               (4, '2026-11-25 00:00+08'), (5, '2026-11-26 00:00+08')) AS v(id, at)
 WHERE user_order.id = v.id;
RESET session_replication_role;
SELECT e.id, insure_stream.order_accepted(e.id, e.gmt_modified, e.ingested_at, 'Asia/Shanghai', true) AS day_window,
       insure_stream.order_accepted(e.id, e.gmt_modified, e.ingested_at, 'Asia/Shanghai', false) AS no_window
  FROM insure_stream.user_order e ORDER BY e.id;
SELECT name, value FROM insure_stream.status()
 WHERE section = 'events' AND name LIKE 'user_order %' ORDER BY name;
-- verify() sees what the log now says, rebuild() follows it
SELECT relation, count(*) AS differences FROM insure_stream.verify() GROUP BY relation ORDER BY relation;
SELECT insure_stream.rebuild();
SELECT id, day, order_no FROM insure_stream.order_state ORDER BY id;
SELECT * FROM insure_stream.verify();
-- the same under order_window = none (a re-derive): all five count
SELECT insure_stream.configure('order_window', 'none');
SELECT count(*) AS states FROM insure_stream.order_state;
SELECT * FROM insure_stream.verify();
SELECT insure_stream.configure('order_window', 'day');
SELECT count(*) AS states FROM insure_stream.order_state;
SELECT * FROM insure_stream.verify();

-- the trigger decides the same for such rows (as a superuser may still write them)
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, ingested_at) VALUES
  (6, 'trigger-minus-infinity', 1795572000000, '-infinity'),
  (7, 'trigger-infinity', 1795572000000, 'infinity'),
  (8, 'trigger-epoch', 1795572000000, '1970-01-01 00:00+00');
SELECT id, order_no FROM insure_stream.order_state WHERE id >= 6 ORDER BY id;
SELECT * FROM insure_stream.verify();

-- the window's start as the triggers compute it, at the ends of the range
SELECT insure_stream.order_in_window(0, '-infinity', 'UTC') AS minus_infinity,
       insure_stream.order_in_window(9223372036854775807, 'infinity', 'UTC') AS plus_infinity,
       insure_stream.order_in_window(0, '1970-01-01 00:00+00', 'UTC') AS epoch,
       insure_stream.order_in_window(0, '1970-01-01 00:00+00', 'Asia/Shanghai') AS epoch_shanghai,
       insure_stream.order_in_window(0, '4713-01-01 00:00+00 BC', 'America/New_York') AS first_day,
       insure_stream.order_in_window(0, '294276-12-31 12:00+00', 'Asia/Tokyo') AS last_day;

-- back to the suite's settings
TRUNCATE insure_stream.user_order, insure_stream.order_state, insure_stream.order_hour_closed,
  insure_stream.order_last_closed;
DELETE FROM insure_stream.config WHERE NOT is_default AND name <> 'time_zone';
