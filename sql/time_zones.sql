-- time_zone is a name of the time zone database, as the TimeZone setting
-- takes it: 'CET' follows CET in winter and CEST in summer, in the triggers
-- and in every SQL function alike.  (pg_catalog.timezone() and AT TIME ZONE
-- read 'CET' as the abbreviation, a fixed +01, and the session's
-- timezone_abbreviations decide what an abbreviation means.)
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SELECT insure_stream.configure('order_window', 'none');
SELECT insure_stream.configure('time_zone', 'CET');

-- 1782945000000 = 2026-07-01 22:30 UTC = 2026-07-02 00:30 CEST
-- 1768519800000 = 2026-01-15 23:30 UTC = 2026-01-16 00:30 CET
-- 1774745999999 = 2026-03-29 00:59:59.999 UTC, the last CET millisecond
-- 1792889999999 = 2026-10-25 00:59:59.999 UTC, the last CEST millisecond
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) VALUES
  (1, 'summer', 1782945000000),
  (2, 'winter', 1768519800000),
  (3, 'spring-before', 1774745999999),
  (4, 'spring-after', 1774745999999 + 1),
  (5, 'autumn-before', 1792889999999),
  (6, 'autumn-after', 1792889999999 + 1);
SELECT s.id, s.day, s.biz_date
  FROM insure_stream.order_state s
 ORDER BY s.id;
SELECT * FROM insure_stream.verify();
-- the SQL side files them in the same hours
SELECT e.id, insure_stream.order_biz_date(e.gmt_modified, 'CET') AS sql_biz_date,
       insure_stream.from_unixtime(e.gmt_modified / 1000, 'yyyyMMddHH') AS from_unixtime,
       pg_catalog.to_char(pg_catalog.timezone('CET', to_timestamp(e.gmt_modified / 1000.0)),
                          'YYYYMMDDHH24') AS abbreviation_cet
  FROM insure_stream.user_order e ORDER BY e.id;
-- and a re-derive gives the same state
SELECT insure_stream.rebuild();
SELECT id, day FROM insure_stream.order_state ORDER BY id;
SELECT * FROM insure_stream.verify();

-- the helpers: wall-clock time of an instant, and back
SELECT insure_stream.zone_local('2026-07-01 22:30+00', 'CET') AS cest,
       insure_stream.zone_local('2026-01-15 23:30+00', 'CET') AS cet,
       insure_stream.zone_local('2026-07-01 22:30+00', 'cet') AS lower_case,
       insure_stream.zone_local('2026-07-01 22:30+00', 'Asia/Kolkata') AS kolkata;
SELECT insure_stream.zone_instant('2026-07-02 00:00', 'CET') AS cest_midnight,
       insure_stream.zone_instant('2026-03-29 02:30', 'CET') AS skipped,       -- spring forward
       insure_stream.zone_instant('2026-10-25 02:30', 'CET') AS repeated,      -- fall back
       insure_stream.zone_instant('2026-07-02 00:00', 'Asia/Kathmandu') AS kathmandu;
SELECT insure_stream.zone_local('infinity', 'CET') AS plus_infinity,
       insure_stream.zone_instant('-infinity', 'CET') AS minus_infinity,
       insure_stream.zone_local(NULL, 'CET') IS NULL AS strict;
-- round trip over a year of hours in zones with and without summer time
SELECT z.zone, count(*) FILTER (WHERE insure_stream.zone_instant(insure_stream.zone_local(t, z.zone), z.zone) <> t)
         AS differing_hours
  FROM (VALUES ('Asia/Shanghai'), ('Australia/Lord_Howe'), ('Asia/Kolkata')) AS z(zone),
       generate_series('2026-01-01 00:00+00'::timestamptz, '2026-12-31 23:00+00', '1 hour') AS t
 GROUP BY z.zone ORDER BY z.zone;
-- zone names that are also abbreviations: the session's abbreviations do not matter
SET timezone_abbreviations = 'Australia';
SELECT insure_stream.zone_local('2026-07-01 12:00+00', 'EST') AS tzdb_est,
       pg_catalog.timezone('EST', '2026-07-01 12:00+00'::timestamptz) AS abbreviation_est,
       insure_stream.zone_local('2026-07-01 12:00+00', 'EET') AS tzdb_eet,
       pg_catalog.timezone('EET', '2026-07-01 12:00+00'::timestamptz) AS abbreviation_eet;
RESET timezone_abbreviations;
-- unknown zones
\set VERBOSITY terse
SELECT insure_stream.zone_local(now(), 'Mars/Olympus_Mons');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY sqlstate
SELECT insure_stream.zone_instant('2026-01-01', repeat('x', 300));
\set VERBOSITY default

-- back to the suite's settings
TRUNCATE insure_stream.user_order, insure_stream.order_state, insure_stream.order_hour_closed,
  insure_stream.order_last_closed;
SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
DELETE FROM insure_stream.config WHERE NOT is_default AND name <> 'time_zone';
